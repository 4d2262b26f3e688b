import { setFlagsFromString } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { createRng } from '../rng.js';
import { COLUMN_ALIGN, createGemmKernels, packedSize, packPanels, roundUp, type GemmKernels } from './gemm-kernel.js';
import { relaxedSimdSupported } from './simd-features.js';
import { wasmApi } from './wasm-runtime.js';

// NOTE: Node 20 compiles relaxed SIMD only behind this V8 flag; set at run time it applies to
// modules compiled afterwards, so both kernel variants are tested in one process.
setFlagsFromString('--experimental-wasm-relaxed-simd');

const memory = new wasmApi.Memory({ initial: 256 });
const plain = createGemmKernels(memory, false);
const fused = createGemmKernels(memory, true);

function random(n: number, seed: number): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: n }, () => rng.next() * 2 - 1);
}

/** Runs out = A·W + bias (or out += ..., with `add`; or gelu_new of it) for A [M, K], W [K, N] in the shared memory. */
function run(g: GemmKernels, a: Float32Array, w: Float32Array, bias: Float32Array, M: number, K: number, N: number, add: Float32Array | null, epilogue: 'gelu' | null = null): Float32Array {
  const Np = roundUp(N, COLUMN_ALIGN);
  const mem = new Float32Array(memory.buffer);
  const aAt = 0;
  const wAt = roundUp(M * K, 16);
  const bAt = wAt + packedSize(K, N);
  const oAt = roundUp(bAt + Np, 16);
  mem.set(a, aAt);
  packPanels({ data: w, ld: N, col0: 0 }, K, N, mem, wAt);
  mem.fill(0, bAt, bAt + Np);
  mem.set(bias, bAt);
  mem.fill(0, oAt, oAt + M * Np);
  if (add !== null) for (let i = 0; i < M; i++) mem.set(add.subarray(i * N, (i + 1) * N), oAt + i * Np);
  (add !== null ? g.gemmAdd : epilogue === 'gelu' ? g.gemmGelu : g.gemm)(aAt * 4, K, wAt * 4, bAt * 4, oAt * 4, Np, M, K, Np);
  const out = new Float32Array(M * N);
  for (let i = 0; i < M; i++) out.set(mem.subarray(oAt + i * Np, oAt + i * Np + N), i * N);
  return out;
}

function reference(a: Float32Array, w: Float32Array, bias: Float32Array, M: number, K: number, N: number, add: Float32Array | null): Float64Array {
  const out = new Float64Array(M * N);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += a[i * K + k] * w[k * N + j];
      out[i * N + j] = s + bias[j] + (add === null ? 0 : add[i * N + j]);
    }
  }
  return out;
}

function maxDiff(x: ArrayLike<number>, y: ArrayLike<number>): number {
  let d = 0;
  for (let i = 0; i < x.length; i++) d = Math.max(d, Math.abs(x[i] - y[i]));
  return d;
}

describe('wasm GEMM kernels', () => {
  it('detects relaxed SIMD once the runtime compiles it', () => {
    expect(relaxedSimdSupported()).toBe(true);
  });

  // Row counts around the 3-row tile (remainders of 1 and 2 rows) and the 240-row block; widths with every narrow last panel
  // (N % 12 = 0, 4, 8), widths that are not multiples of 4 (padded), of 24 (the single-row
  // two-panel groups) or below one panel; and an odd K.
  const shapes: Array<[number, number, number]> = [
    [1, 13, 8], [1, 20, 36], [1, 9, 44], [2, 32, 24], [2, 16, 30], [3, 17, 40], [4, 8, 4], [5, 64, 72], [7, 24, 28], [8, 40, 36], [32, 16, 44], [49, 33, 19], [67, 21, 60], [100, 40, 64], [241, 9, 20], [484, 8, 24],
  ];
  for (const [M, K, N] of shapes) {
    it(`gemm and gemmAdd [${M}, ${K}] x [${K}, ${N}] match float64, plain and relaxed`, () => {
      const a = random(M * K, M + K);
      const w = random(K * N, N);
      const bias = random(N, 3);
      const res = random(M * N, 4);
      for (const g of [plain, fused]) {
        expect(maxDiff(run(g, a, w, bias, M, K, N, null), reference(a, w, bias, M, K, N, null))).toBeLessThan(1e-5);
        expect(maxDiff(run(g, a, w, bias, M, K, N, res), reference(a, w, bias, M, K, N, res))).toBeLessThan(1e-5);
      }
      // The two variants differ only in rounding.
      expect(maxDiff(run(plain, a, w, bias, M, K, N, null), run(fused, a, w, bias, M, K, N, null))).toBeLessThan(1e-5);
      // gemmGelu: gelu_new of gemm's values (tanh form, float64).
      const geluRef = reference(a, w, bias, M, K, N, null).map((x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))));
      for (const g of [plain, fused]) expect(maxDiff(run(g, a, w, bias, M, K, N, null, 'gelu'), geluRef)).toBeLessThan(1e-5);
    });
  }

  it('kernels with the A row stride fixed give bitwise the results of the general ones', () => {
    for (const [general, fma] of [[plain, false], [fused, true]] as const) {
      const fixed = createGemmKernels(memory, fma, [13, 40, 64]);
      for (const [M, K, N] of [[1, 13, 8], [8, 40, 36], [100, 40, 64], [7, 64, 28], [5, 24, 16]] as const) {
        const a = random(M * K, M + 1);
        const w = random(K * N, K + 2);
        const bias = random(N, 5);
        const res = random(M * N, 6);
        expect(run(fixed, a, w, bias, M, K, N, null)).toEqual(run(general, a, w, bias, M, K, N, null));
        expect(run(fixed, a, w, bias, M, K, N, res)).toEqual(run(general, a, w, bias, M, K, N, res));
        expect(run(fixed, a, w, bias, M, K, N, null, 'gelu')).toEqual(run(general, a, w, bias, M, K, N, null, 'gelu'));
      }
    }
  });

  it('decode-sized blocks over several panel groups (long K) match float64, each row bitwise as alone', () => {
    // K = 2048: 2 panels per group (7 full panels: groups of 2, 2, 2, 1; a 4-wide tail); K = 1400:
    // 3 per group, 6 rows (no 2-row tile: the first 3-row tile streams each panel); 32 rows.
    for (const [M, K, N] of [[8, 2048, 88], [6, 1400, 140], [32, 700, 100]] as const) {
      const a = random(M * K, M + 7);
      const w = random(K * N, K + 8);
      const bias = random(N, 12);
      const res = random(M * N, 13);
      for (const g of [plain, fused]) {
        const batch = run(g, a, w, bias, M, K, N, null);
        expect(maxDiff(batch, reference(a, w, bias, M, K, N, null))).toBeLessThan(1e-4);
        expect(maxDiff(run(g, a, w, bias, M, K, N, res), reference(a, w, bias, M, K, N, res))).toBeLessThan(1e-4);
        for (const i of [0, 1, M - 1]) expect(run(g, a.subarray(i * K, (i + 1) * K), w, bias, 1, K, N, null)).toEqual(batch.subarray(i * N, (i + 1) * N));
      }
    }
  });

  it('a chunked K with a partial-sum scratch is bitwise as without it, and matches float64', () => {
    // K = 2048, 1024, 1536: 4, 2, 3 chunks of 512; 260 columns: panel groups of 10, 10, 1, a tail
    // (and the widest output the scratch holds);
    // 16 rows: the largest block taken chunk by chunk; 17 and more: chunks inside each tile.
    const scratchAt = 15 * 2 ** 20;
    const chunked = [false, true].map((fma) => createGemmKernels(memory, fma, [], { at: scratchAt, cols: 260 }));
    for (const [M, K, N] of [[8, 2048, 88], [16, 1024, 260], [5, 1536, 40], [17, 1024, 40], [2, 2048, 24]] as const) {
      const a = random(M * K, M + 17);
      const w = random(K * N, K + 18);
      const bias = random(N, 19);
      const res = random(M * N, 20);
      for (const [g, base] of [[chunked[0], plain], [chunked[1], fused]] as const) {
        const batch = run(g, a, w, bias, M, K, N, null);
        expect(batch).toEqual(run(base, a, w, bias, M, K, N, null));
        expect(maxDiff(batch, reference(a, w, bias, M, K, N, null))).toBeLessThan(1e-4);
        expect(run(g, a, w, bias, M, K, N, res)).toEqual(run(base, a, w, bias, M, K, N, res));
        expect(run(g, a, w, bias, M, K, N, null, 'gelu')).toEqual(run(base, a, w, bias, M, K, N, null, 'gelu'));
        for (const i of [0, M - 1]) expect(run(g, a.subarray(i * K, (i + 1) * K), w, bias, 1, K, N, null)).toEqual(batch.subarray(i * N, (i + 1) * N));
      }
    }
  });

  it('a row computed within a batch is bitwise equal to the row computed alone', () => {
    const [M, K, N] = [245, 48, 96];
    const a = random(M * K, 9);
    const w = random(K * N, 10);
    const bias = random(N, 11);
    for (const g of [plain, fused]) {
      const batch = run(g, a, w, bias, M, K, N, null);
      for (const i of [0, 2, 3, 35, 36, 239, 240, 244]) {
        const alone = run(g, a.subarray(i * K, (i + 1) * K), w, bias, 1, K, N, null);
        expect(alone).toEqual(batch.subarray(i * N, (i + 1) * N));
      }
    }
  });
});
