/// <reference types="@webgpu/types" />
/**
 * Parity of the hand-built pipeline's newer kernels against generic tfjs ops, run directly on the
 * tfjs WebGPU backend's device: the blocked matmul over several tilings (split-K included; every
 * epilogue; with the LayerNorm prologue), the small-M matmul with its LayerNorm prologue, against tf.matMul + bias (+ gelu_new / residual), and the block (flash) prefill
 * attention against referenceOps.attention, for a prefill from position 0 and a continued chunk.
 */
import * as tf from '@tensorflow/tfjs-core';
import { createRng } from '../rng.js';
import { flashAttentionWgsl, flashGeometry } from './attention-kernels.js';
import { BLOCK, blockThreads, matmulBlockedWgsl, splitReduceWgsl, type BlockTile } from './blocked-matmul.js';
import type { Epilogue } from './fast-kernels.js';
import { matmulSmallWgsl, SMALL, smallRows } from './matmul-kernels.js';
import { GPU_PAGE, referenceOps } from './forward-ops.js';
import type { KernelCheck } from './gpu-protocol.js';

const TOLERANCE = 1e-5;

function rand(n: number, seed: number, scale = 1): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: n }, () => (rng.next() * 2 - 1) * scale);
}

/** Largest |a - b| relative to the largest |a|. */
function rel(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = a.length === b.length ? 0 : Infinity;
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    s = Math.max(s, Math.abs(a[i]));
  }
  return d / Math.max(s, 1e-30);
}

interface Launch { code: string; bind: number[]; grid: number[] }

/** Runs `launches` in one pass over buffers made from `data`; returns buffer `read` (floats). */
async function runKernels(dev: GPUDevice, data: Array<Float32Array | Int32Array>, launches: Launch[], read: number): Promise<Float32Array> {
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  const bufs = data.map((d) => {
    const b = dev.createBuffer({ size: Math.max(16, d.byteLength), usage });
    dev.queue.writeBuffer(b, 0, d);
    return b;
  });
  const enc = dev.createCommandEncoder();
  const pass = enc.beginComputePass();
  for (const l of launches) {
    const pipe = dev.createComputePipeline({ layout: 'auto', compute: { module: dev.createShaderModule({ code: l.code }), entryPoint: 'main' } });
    pass.setPipeline(pipe);
    pass.setBindGroup(0, dev.createBindGroup({ layout: pipe.getBindGroupLayout(0), entries: l.bind.map((i, binding) => ({ binding, resource: { buffer: bufs[i] } })) }));
    pass.dispatchWorkgroups(l.grid[0], l.grid[1] ?? 1, l.grid[2] ?? 1);
  }
  pass.end();
  const size = data[read].byteLength;
  const staging = dev.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  enc.copyBufferToBuffer(bufs[read], 0, staging, 0, size);
  dev.queue.submit([enc.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const out = new Float32Array(staging.getMappedRange().slice(0));
  staging.unmap();
  return out;
}

/** tf reference of epilogue(A W + B). */
async function matmulReference(a: Float32Array, w: Float32Array, b: Float32Array, r: Float32Array, s: { M: number; K: number; N: number; ep: Epilogue }): Promise<Float32Array> {
  const out = tf.tidy(() => {
    const y = tf.add(tf.matMul(tf.tensor2d(a, [s.M, s.K]), tf.tensor2d(w, [s.K, s.N])), tf.tensor1d(b)) as tf.Tensor2D;
    if (s.ep === 'gelu') return referenceOps.geluNew(y);
    return s.ep === 'residual' ? tf.add(y, tf.tensor2d(r, [s.M, s.N])) : y;
  });
  const data = (await out.data()) as Float32Array;
  out.dispose();
  return data;
}

/** The blocked matmul (M 100, K 256, N 200: partial row and column tiles) over tilings and epilogues. */
async function matmulChecks(dev: GPUDevice): Promise<KernelCheck[]> {
  const M = 100;
  const K = 256;
  const N = 200;
  const a = rand(M * K, 21);
  const w = rand(K * N, 22, 0.1);
  const b = rand(N, 23, 0.1);
  const r = rand(M * N, 24);
  const info = new Int32Array(4 + 4 * M);
  info[0] = M;
  const tiles: BlockTile[] = [{ BM: 64, TM: 4, split: 1 }, { BM: 32, TM: 4, split: 2 }, { BM: 128, TM: 8, split: 1 }, { BM: 64, TM: 8, split: 4 }, { BM: 16, TM: 4, split: 1 }];
  const eps: Epilogue[] = ['none', 'gelu', 'residual'];
  const checks: KernelCheck[] = [];
  for (const [i, t] of tiles.entries()) {
    const ep = eps[i % eps.length];
    const ref = await matmulReference(a, w, b, r, { M, K, N, ep });
    const grid = [Math.ceil(N / BLOCK.BN), Math.ceil(M / t.BM), t.split];
    const res = ep === 'residual' ? [5] : [];
    // buffers: 0 info, 1 A, 2 W, 3 B, 4 O, 5 R, 6 partials
    const data = [info, a, w, b, new Float32Array(M * N), r, new Float32Array(t.split * M * N)];
    const launches: Launch[] = t.split === 1
      ? [{ code: matmulBlockedWgsl(K, N, ep, t), bind: [0, 1, 2, 3, 4, ...res], grid }]
      : [{ code: matmulBlockedWgsl(K, N, ep, t), bind: [0, 1, 2, 6], grid },
        { code: splitReduceWgsl(N, ep, t.split), bind: [0, 6, 3, 4, ...res], grid: [Math.ceil((M * N) / 4 / 256)] }];
    const got = await runKernels(dev, data, launches, 4);
    const d = rel(ref, got);
    checks.push({ name: `fast kernel: blocked matmul ${t.BM}x64 (${blockThreads(t)} threads) split ${t.split}, ${ep}, ${M}x${K}x${N} (rel)`, maxAbsDiff: d, ok: d <= TOLERANCE });
  }
  // With the LayerNorm prologue: A shifted and scaled per row (so normalizing matters), against
  // referenceOps.normalize then the matmul.
  const x = Float32Array.from(a, (v, i) => 3 * v + 0.5 * Math.floor(i / K) - 7);
  const normed = tf.tidy(() => referenceOps.normalize(tf.tensor2d(x, [M, K]), 1e-5));
  const xn = (await normed.data()) as Float32Array;
  normed.dispose();
  for (const [t, ep] of [[{ BM: 128, TM: 8, split: 1 }, 'gelu'], [{ BM: 64, TM: 4, split: 2 }, 'none'], [{ BM: 32, TM: 4, split: 1 }, 'residual']] as Array<[BlockTile, Epilogue]>) {
    const ref = await matmulReference(xn, w, b, r, { M, K, N, ep });
    const grid = [Math.ceil(N / BLOCK.BN), Math.ceil(M / t.BM), t.split];
    const res = ep === 'residual' ? [5] : [];
    const data = [info, x, w, b, new Float32Array(M * N), r, new Float32Array(t.split * M * N)];
    const launches: Launch[] = t.split === 1
      ? [{ code: matmulBlockedWgsl(K, N, ep, t, 1e-5), bind: [0, 1, 2, 3, 4, ...res], grid }]
      : [{ code: matmulBlockedWgsl(K, N, ep, t, 1e-5), bind: [0, 1, 2, 6], grid },
        { code: splitReduceWgsl(N, ep, t.split), bind: [0, 6, 3, 4, ...res], grid: [Math.ceil((M * N) / 4 / 256)] }];
    const d = rel(ref, await runKernels(dev, data, launches, 4));
    checks.push({ name: `fast kernel: blocked matmul + LayerNorm prologue ${t.BM}x64 split ${t.split}, ${ep}, ${M}x${K}x${N} (rel)`, maxAbsDiff: d, ok: d <= TOLERANCE });
  }
  checks.push(...(await smallNormChecks(dev, { x, xn, w, b, r, K, N })));
  return checks;
}

/** The small-M (decode) matmul with its LayerNorm prologue, for 1, 3 and 7 rows (1, 4 and 8 rows a workgroup). */
async function smallNormChecks(dev: GPUDevice, d: { x: Float32Array; xn: Float32Array; w: Float32Array; b: Float32Array; r: Float32Array; K: number; N: number }): Promise<KernelCheck[]> {
  const { K, N } = d;
  const checks: KernelCheck[] = [];
  for (const [M, ep] of [[1, 'kv'], [3, 'gelu'], [7, 'residual']] as Array<[number, Epilogue]>) {
    const RB = smallRows(M);
    const info = new Int32Array(4 + 4 * M);
    info[0] = M;
    const x = d.x.subarray(0, M * K);
    const r = d.r.subarray(0, M * N);
    // NOTE: the kv epilogue writes pool and kvOut (N = 3C); here its plain output O is compared.
    const Nk = ep === 'kv' ? 3 * 64 : N;
    const w = d.w.subarray(0, K * Nk);
    const b = d.b.length >= Nk ? d.b.subarray(0, Nk) : Float32Array.from({ length: Nk }, (_, i) => d.b[i % d.b.length]);
    const ref = await matmulReference(d.xn.subarray(0, M * K), w, b, r, { M, K, N: Nk, ep: ep === 'kv' ? 'none' : ep });
    const extra = ep === 'residual' ? [5] : ep === 'kv' ? [6, 7] : [];
    if (ep === 'kv') for (let i = 0; i < M; i++) info[6 + 4 * i] = i;
    const data = [info, x, w, b, new Float32Array(M * Nk), r, new Float32Array(2 * GPU_PAGE * Nk), new Float32Array(2 * M * Nk)];
    const grid = [Math.ceil(Nk / SMALL.TN), Math.ceil(M / RB)];
    const got = await runKernels(dev, data, [{ code: matmulSmallWgsl(K, Nk, ep, RB, 1e-5), bind: [0, 1, 2, 3, 4, ...extra], grid }], 4);
    const diff = rel(ref, got);
    checks.push({ name: `fast kernel: small-M matmul + LayerNorm prologue, ${RB} rows/workgroup, ${ep}, ${M}x${K}x${Nk} (rel)`, maxAbsDiff: diff, ok: diff <= TOLERANCE });
  }
  return checks;
}

/** Block attention vs referenceOps.attention: rows [pos0, pos0 + M) of one sequence of a paged pool. */
async function flashCheck(dev: GPUDevice, nHead: number, hd: number, pos0: number, M: number): Promise<KernelCheck> {
  const C = nHead * hd;
  const maxPages = 4;
  // Pages of the sequence interleaved with unused ones (a sequence's pages are not contiguous).
  const table = Int32Array.from({ length: maxPages }, (_, p) => 2 * p + 1);
  const poolRows = 2 * maxPages * 2 * GPU_PAGE;
  const pool = rand(poolRows * C, 31);
  const qkv = rand(M * 3 * C, 32);
  const info = new Int32Array(4 + 4 * M);
  info[0] = M;
  for (let r = 0; r < M; r++) info.set([0, pos0 + r, 0, 0], 4 + 4 * r);
  const scale = 1 / Math.sqrt(hd);
  const infoHost = Int32Array.from({ length: 2 * M }, (_, i) => (i % 2 === 0 ? 0 : pos0 + (i - 1) / 2));
  const ref = tf.tidy(() => referenceOps.attention({
    qkv: tf.tensor2d(qkv, [M, 3 * C]), pool: tf.tensor2d(pool, [poolRows, C]), pages: tf.tensor2d(table, [1, maxPages], 'int32'),
    info: tf.tensor2d(infoHost, [M, 2], 'int32'), pagesHost: table, infoHost, nHead, scale,
  }));
  const want = (await ref.data()) as Float32Array;
  ref.dispose();
  const shape = { C, nHead, V: 0, maxLen: maxPages * GPU_PAGE, scale };
  const grid = [nHead, Math.ceil(M / flashGeometry(hd).bq)];
  const got = await runKernels(dev, [info, qkv, pool, table, new Float32Array(M * C)], [{ code: flashAttentionWgsl(shape, maxPages), bind: [0, 1, 2, 3, 4], grid }], 4);
  const d = rel(want, got);
  return { name: `fast kernel: block attention ${nHead}x${hd}, rows ${pos0}..${pos0 + M - 1} (rel)`, maxAbsDiff: d, ok: d <= TOLERANCE };
}

/** Every check of this module (WebGPU backend only). */
export async function checkFastKernels(): Promise<KernelCheck[]> {
  const dev = (tf.backend() as unknown as { device: GPUDevice }).device;
  return [
    ...(await matmulChecks(dev)),
    await flashCheck(dev, 8, 64, 0, 150),
    await flashCheck(dev, 8, 64, 70, 60),
    await flashCheck(dev, 8, 32, 0, 200),
    await flashCheck(dev, 4, 16, 33, 100),
  ];
}
