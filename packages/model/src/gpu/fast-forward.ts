/// <reference types="@webgpu/types" />
/**
 * FastForward: the whole forward pass (decode step or prefill chunk) as ONE WebGPU command buffer,
 * bypassing tfjs dispatch: weights uploaded once into GPUBuffers; per call only the `info` (row data) and
 * page-table buffers are written (queue.writeBuffer); one compute pass of
 * embed, then per layer normalize -> qkv matmul -> KV append -> attention -> proj (+residual) ->
 * normalize -> fc (+gelu) -> mlp (+residual), then normalize -> head -> argmax; then copies of the
 * output and every layer's new K/V rows into one staging buffer and a single mapAsync.
 * The KV pool stays the tfjs tensors of GpuKvPool (shared with the tfjs path and `load`): their
 * GPUBuffers are looked up per call and tfjs's pending commands are submitted first.
 * Invariants: bind groups are rebuilt only when a buffer they name changes (scratch growth, pool
 * growth); rows beyond M are never written; pipelines are compiled once per model.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GptConfig } from '../config.js';
import type { FoldedWeights } from '../model-tensors.js';
import { GPU_PAGE } from './forward-ops.js';
import {
  SMALL, appendWgsl, argmaxWgsl, attentionWgsl, embedWgsl, matmulSmallWgsl, matmulTiledWgsl, normalizeWgsl,
  smallRows, TILE, tiledRows, type Epilogue, type KernelShape,
} from './fast-kernels.js';
import type { GpuKvPool } from './gpu-kv-pool.js';

/** The part of tfjs-backend-webgpu's backend this module uses. */
interface WebGpuBackendInternals {
  device: GPUDevice;
  commandEncoder: GPUCommandEncoder | null;
  endComputePassEncoder(): void;
  submitQueue(): void;
  uploadToGPU(dataId: object): void;
  tensorMap: { get(dataId: object): { resource: unknown } };
}

/** One forward call's rows. */
export interface FastRows {
  tokens: number[];
  positions: number[];
  /** Pool row of each row's K. */
  dst: number[];
  /** Page-table row of each row. */
  tableRows: number[];
  /** Page tables [S * maxPages]. */
  pages: Int32Array;
}

/** What to read back besides K/V: logits of every row, of the last row, argmax ids, or nothing. */
export type FastOutput = 'logits' | 'last' | 'ids' | 'none';

/** What one call returns. */
export interface FastResult {
  logits: Float32Array | null;
  ids: Int32Array | null;
  /** [nLayer, 2, M, C]: per layer the M K rows, then the M V rows. */
  kv: Float32Array;
}

/** Rows at or below which the small-M matmul is used (the tiled one above). */
const SMALL_M = 32;

interface Dense { w: GPUBuffer; b: GPUBuffer; K: number; N: number }
/** One recorded dispatch. */
interface Step { pipe: GPUComputePipeline; group: GPUBindGroup; x: number; y: number }

/** Recorded call shapes kept (one per distinct row count and output). */
const MAX_PLANS = 256;
interface Scratch {
  cap: number;
  meta: GPUBuffer; pages: GPUBuffer; xa: GPUBuffer; xb: GPUBuffer; h: GPUBuffer; qkv: GPUBuffer; y: GPUBuffer;
  f: GPUBuffer; logits: GPUBuffer; ids: GPUBuffer; kvOut: GPUBuffer; staging: GPUBuffer; pagesCap: number;
}

const STORAGE = (): number => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;

/** Whether the fast pipeline supports this model (head size, widths, activation). */
export function fastForwardFits(config: GptConfig): boolean {
  const hd = config.nEmbd / config.nHead;
  const tanhGelu = ['gelu_new', 'gelu_pytorch_tanh', 'gelu_fast'].includes(config.activation);
  // NOTE: attention keeps scores and key rows of up to 1024 positions in workgroup memory.
  return tanhGelu && Number.isInteger(hd) && hd % 4 === 0 && 64 % hd === 0 && config.nEmbd % 64 === 0 && config.nPositions <= 1024;
}

/** The hand-built forward pipeline of one model on the tfjs WebGPU backend's device. */
export class FastForward {
  private readonly be: WebGpuBackendInternals;
  private readonly dev: GPUDevice;
  private readonly blocks: Array<{ attn: Dense; proj: Dense; fc: Dense; mlp: Dense }>;
  private readonly head: Dense;
  private readonly wte: GPUBuffer;
  private readonly wpe: GPUBuffer;
  private readonly pipes = new Map<string, GPUComputePipeline>();
  private groups = new Map<string, { key: readonly GPUBuffer[]; group: GPUBindGroup }>();
  private plans = new Map<string, { pools: GPUBuffer[]; steps: Step[] }>();
  private s: Scratch | null = null;
  private readonly shape: KernelShape;

  constructor(private readonly config: GptConfig, weights: FoldedWeights, private readonly pool: GpuKvPool) {
    this.be = tf.backend() as unknown as WebGpuBackendInternals;
    this.dev = this.be.device;
    const { nEmbd: C, nInner: I, vocabSize: V } = config;
    const dense = (w: Float32Array, b: Float32Array, K: number, N: number): Dense => ({ w: this.upload(w), b: this.upload(b), K, N });
    this.blocks = weights.blocks.map((b) => ({
      attn: dense(b.attnW, b.attnB, C, 3 * C), proj: dense(b.projW, b.projB, C, C),
      fc: dense(b.fcW, b.fcB, C, I), mlp: dense(b.mlpW, b.mlpB, I, C),
    }));
    this.head = dense(weights.headW, weights.headB, C, V);
    this.wte = this.upload(weights.wte);
    this.wpe = this.upload(weights.wpe);
    const maxLen = Math.ceil(config.nPositions / GPU_PAGE) * GPU_PAGE;
    this.shape = { C, nHead: config.nHead, V, maxLen, scale: 1 / Math.sqrt(C / config.nHead) };
  }

  /** Runs one forward call over `rows` (all rows' K/V appended to the pool first, per layer). */
  async run(rows: FastRows, output: FastOutput): Promise<FastResult> {
    const { nEmbd: C, vocabSize: V, nLayer: L } = this.config;
    const M = rows.tokens.length;
    const s = this.scratch(M, rows.pages.length);
    const meta = new Int32Array(4 + 4 * M);
    meta[0] = M;
    for (let r = 0; r < M; r++) meta.set([rows.tokens[r], rows.positions[r], rows.dst[r], rows.tableRows[r]], 4 + 4 * r);
    this.dev.queue.writeBuffer(s.meta, 0, meta);
    this.dev.queue.writeBuffer(s.pages, 0, rows.pages);
    const pools = Array.from({ length: L }, (_, l) => this.poolBuffer(l));
    // NOTE: tfjs may hold encoded but unsubmitted commands that write the pool (load, tfjs path).
    if (this.be.commandEncoder !== null && this.be.commandEncoder !== undefined) {
      this.be.endComputePassEncoder();
      this.be.submitQueue();
    }
    const enc = this.dev.createCommandEncoder();
    const pass = enc.beginComputePass();
    let last: GPUComputePipeline | null = null;
    for (const st of this.plan(M, output, pools)) {
      if (st.pipe !== last) pass.setPipeline(st.pipe);
      last = st.pipe;
      pass.setBindGroup(0, st.group);
      pass.dispatchWorkgroups(st.x, st.y, 1);
    }
    pass.end();
    const outBytes = output === 'none' ? 0 : output === 'ids' ? M * 4 : output === 'last' ? V * 4 : M * V * 4;
    if (output === 'ids') enc.copyBufferToBuffer(s.ids, 0, s.staging, 0, outBytes);
    else if (output !== 'none') enc.copyBufferToBuffer(s.logits, output === 'last' ? (M - 1) * V * 4 : 0, s.staging, 0, outBytes);
    const kvBytes = M * 2 * C * 4;
    for (let l = 0; l < L; l++) enc.copyBufferToBuffer(s.kvOut, l * s.cap * 2 * C * 4, s.staging, outBytes + l * kvBytes, kvBytes);
    this.dev.queue.submit([enc.finish()]);
    await s.staging.mapAsync(GPUMapMode.READ, 0, outBytes + L * kvBytes);
    const mapped = s.staging.getMappedRange(0, outBytes + L * kvBytes);
    const result: FastResult = {
      logits: output === 'logits' || output === 'last' ? new Float32Array(mapped.slice(0, outBytes)) : null,
      ids: output === 'ids' ? new Int32Array(mapped.slice(0, outBytes)) : null,
      kv: new Float32Array(mapped.slice(outBytes)),
    };
    s.staging.unmap();
    return result;
  }

  /**
   * Lets go of every buffer this pipeline owns (not the pool's).
   * NOTE: the buffers are dropped, not destroy()ed: destroying one while the queue may still hold
   * work that binds it left Dawn (webgpu 0.6.2) with a pending exception, and the next native call
   * aborted the process (seen on an H200 when a model was disposed after the benchmarks). Dawn frees
   * a dropped buffer once it is collected.
   */
  dispose(): void {
    this.blocks.length = 0;
    this.freeScratch();
    this.groups = new Map();
    this.plans = new Map();
  }

  /**
   * The dispatches of one call shape (M rows, output), recorded once and replayed while the
   * scratch and pool buffers they bind stay the same.
   */
  private plan(M: number, output: FastOutput, pools: GPUBuffer[]): Step[] {
    const key = `${M}|${output}`;
    const cached = this.plans.get(key);
    if (cached !== undefined && cached.pools.every((b, i) => b === pools[i])) return cached.steps;
    const { nEmbd: C, vocabSize: V, nLayer: L } = this.config;
    const s = this.s as Scratch;
    const steps: Step[] = [];
    const elems = (n: number): number => Math.ceil((n * C) / 256);
    this.dispatch(steps, `embed`, () => embedWgsl(C), [s.meta, this.wte, this.wpe, s.xa], [elems(M)]);
    for (let l = 0; l < L; l++) {
      const b = this.blocks[l];
      const poolBuf = pools[l];
      const kvOut = { buffer: s.kvOut, offset: l * s.cap * 2 * C * 4, size: s.cap * 2 * C * 4 };
      this.normalize(steps, s.xa, s.h, M);
      this.matmul(steps, b.attn, s.h, s.qkv, 'none', null, M, `attn${l}`);
      this.dispatch(steps, `append`, () => appendWgsl(C), [s.meta, s.qkv, poolBuf, kvOut], [elems(M)], `append${l}`);
      this.dispatch(steps, `attention`, () => attentionWgsl(this.shape, this.pool.maxPages), [s.meta, s.qkv, poolBuf, s.pages, s.y, poolBuf], [this.config.nHead, M], `attention${l}`);
      this.matmul(steps, b.proj, s.y, s.xb, 'residual', s.xa, M, `proj${l}`);
      this.normalize(steps, s.xb, s.h, M);
      this.matmul(steps, b.fc, s.h, s.f, 'gelu', null, M, `fc${l}`);
      this.matmul(steps, b.mlp, s.f, s.xa, 'residual', s.xb, M, `mlp${l}`);
    }
    if (output !== 'none') {
      this.normalize(steps, s.xa, s.h, M);
      this.matmul(steps, this.head, s.h, s.logits, 'none', null, M, 'head');
      if (output === 'ids') this.dispatch(steps, 'argmax', () => argmaxWgsl(V), [s.meta, s.logits, s.ids], [M]);
    }
    if (this.plans.size >= MAX_PLANS) this.plans.clear();
    this.plans.set(key, { pools, steps });
    return steps;
  }

  private normalize(steps: Step[], x: GPUBuffer, y: GPUBuffer, M: number): void {
    const { nEmbd: C, layerNormEpsilon: eps } = this.config;
    this.dispatch(steps, 'normalize', () => normalizeWgsl(C, eps), [this.s!.meta, x, y], [M]);
  }

  private matmul(steps: Step[], d: Dense, a: GPUBuffer, o: GPUBuffer, ep: Epilogue, r: GPUBuffer | null, M: number, tag: string): void {
    const small = M <= SMALL_M;
    const rb = small ? smallRows(M) : tiledRows(M, d.N);
    const kind = `${small ? 'mms' : 'mmt'}${rb}_${d.K}_${d.N}_${ep}`;
    const code = (): string => (small ? matmulSmallWgsl(d.K, d.N, ep, rb) : matmulTiledWgsl(d.K, d.N, ep, rb));
    const grid = small ? [Math.ceil(d.N / SMALL.TN), Math.ceil(M / rb)] : [Math.ceil(d.N / TILE.BN), Math.ceil(M / (16 * rb))];
    const bufs: Array<GPUBuffer | GPUBufferBinding> = [this.s!.meta, a, d.w, d.b, o];
    if (r !== null) bufs.push(r);
    this.dispatch(steps, kind, code, bufs, grid, tag);
  }

  /** Records one dispatch; pipelines by `kind`, bind groups by `tag` (rebuilt when a buffer changes). */
  private dispatch(steps: Step[], kind: string, code: () => string, bufs: Array<GPUBuffer | GPUBufferBinding>, grid: number[], tag = kind): void {
    let pipe = this.pipes.get(kind);
    if (pipe === undefined) {
      const module = this.dev.createShaderModule({ code: code() });
      pipe = this.dev.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
      this.pipes.set(kind, pipe);
    }
    const key = bufs.map((b) => ('buffer' in b ? b.buffer : b));
    const gkey = `${kind}|${tag}`;
    let g = this.groups.get(gkey);
    if (g === undefined || g.key.length !== key.length || g.key.some((b, i) => b !== key[i])) {
      const entries = bufs.map((b, i): GPUBindGroupEntry => ({ binding: i, resource: 'buffer' in b ? b : { buffer: b } }));
      g = { key, group: this.dev.createBindGroup({ layout: pipe.getBindGroupLayout(0), entries }) };
      this.groups.set(gkey, g);
    }
    steps.push({ pipe, group: g.group, x: grid[0], y: grid[1] ?? 1 });
  }

  /** The GPUBuffer of layer l's pool tensor (uploaded if tfjs still holds it on the CPU). */
  private poolBuffer(l: number): GPUBuffer {
    const t = this.pool.layer(l);
    this.be.uploadToGPU(t.dataId);
    return this.be.tensorMap.get(t.dataId).resource as GPUBuffer;
  }

  private upload(data: Float32Array): GPUBuffer {
    const buf = this.dev.createBuffer({ size: Math.max(16, data.byteLength), usage: STORAGE() });
    this.dev.queue.writeBuffer(buf, 0, data);
    return buf;
  }

  /** Scratch buffers for at least M rows and a page table of `pagesLen` entries (grown, never shrunk). */
  private scratch(M: number, pagesLen: number): Scratch {
    if (this.s !== null && this.s.cap >= M && this.s.pagesCap >= pagesLen) return this.s;
    const { nEmbd: C, nInner: I, vocabSize: V, nLayer: L } = this.config;
    const cap = Math.max(M, this.s?.cap ?? 0, SMALL_M);
    const pagesCap = Math.max(pagesLen, this.s?.pagesCap ?? 0, 64);
    this.freeScratch();
    const buf = (floats: number, usage = STORAGE()): GPUBuffer => this.dev.createBuffer({ size: Math.max(16, floats * 4), usage });
    this.s = {
      cap, pagesCap, meta: buf(4 + 4 * cap), pages: buf(pagesCap), xa: buf(cap * C), xb: buf(cap * C), h: buf(cap * C),
      qkv: buf(cap * 3 * C), y: buf(cap * C), f: buf(cap * I), logits: buf(cap * V), ids: buf(cap), kvOut: buf(L * cap * 2 * C),
      staging: buf(cap * V + L * cap * 2 * C, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST),
    };
    this.groups = new Map();
    this.plans = new Map();
    return this.s;
  }

  /** Drops the scratch buffers (see dispose for why they are not destroy()ed). */
  private freeScratch(): void {
    this.s = null;
  }
}
