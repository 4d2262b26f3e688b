/**
 * Register-blocked GEMM kernels in WebAssembly SIMD for the model's dense layers:
 *   out[M, N] (row stride ldc) = A[M, K] (row stride lda) · B[K, N] + bias[N]      ('gemm')
 *   out[M, N] += A · B + bias                                                     ('gemmAdd': residual)
 * B is packed at load into column panels of PANEL (8) floats: panel p holds B[k, 8p .. 8p + 8) for
 * every k, contiguously ([N / 8][K][8], see packPanels), so the inner loop streams one panel.
 * The micro-kernel keeps a tile of MR (4) rows x 8 columns in 8 v128 accumulators: each k loads
 * two B vectors and splats one A float per row (4 x 8 multiply-adds per 6 loads). Rows are taken
 * in blocks of ROW_BLOCK (64) so the A block stays in cache while every panel streams past it.
 * The multiply-add is `f32x4.mul` + `f32x4.add`, or `f32x4.relaxed_madd` (FMA where the CPU has
 * it) when the runtime supports relaxed SIMD (simd-features.ts): the two differ in rounding only.
 * NOTE: the k loop is not unrolled: unrolled by 4, V8 hoisted the loads of all four steps and
 * spilled accumulators (3x slower); it peels the loop once by itself. Tiles of 5 or 6 rows (10-12
 * accumulators) measured 2x slower than 4 for the same reason, on x64's 16 SIMD registers.
 * Invariants: N % 8 == 0 (callers pad the columns); every output element is the sum over k in
 * order 0..K-1 from one accumulator, then + bias (then + out): a row's result never depends on M
 * or on which tile it falls in, so batched rows are bitwise equal to the same rows alone.
 * All pointers are byte addresses in the imported memory; counts are in floats.
 */
import { assembleModule, FunctionBuilder, type Local } from './wasm-assembler.js';
import { isShared, wasmApi, type WasmMemory } from './wasm-runtime.js';

/** Columns per packed B panel. */
export const PANEL = 8;
/** Rows per register tile. */
const MR = 4;
/** Rows per cache block. */
const ROW_BLOCK = 64;

/** gemm(A, lda, B, bias, out, ldc, M, K, N): see the header. */
export type GemmFn = (a: number, lda: number, b: number, bias: number, out: number, ldc: number, m: number, k: number, n: number) => void;

/** The compiled kernels. */
export interface GemmKernels {
  gemm: GemmFn;
  gemmAdd: GemmFn;
  /** Whether the multiply-adds are relaxed (fused) ones. */
  readonly fma: boolean;
}

/** Compiles the kernels against `memory`; `fma` needs a runtime with relaxed SIMD. */
export function createGemmKernels(memory: WasmMemory, fma: boolean): GemmKernels {
  const bytes = assembleModule([{ name: 'gemm', fn: buildGemm(fma, false) }, { name: 'gemmAdd', fn: buildGemm(fma, true) }], isShared(memory));
  const { exports } = new wasmApi.Instance(new wasmApi.Module(bytes), { env: { memory } });
  return { gemm: exports['gemm'] as GemmFn, gemmAdd: exports['gemmAdd'] as GemmFn, fma };
}

/** Rounds n up to a multiple of `step`. */
export function roundUp(n: number, step: number): number {
  return Math.ceil(n / step) * step;
}

/** Where packPanels reads w [k, n]: a row-major array with row stride `ld`, columns from `col0`. */
export interface PanelSource {
  data: Float32Array;
  ld: number;
  col0: number;
}

/**
 * Packs w [k, n] (read from `src`) into panels [nP / 8][k][8] in `out` at float offset `at`
 * (nP = roundUp(n, 8); pad columns are zero), each value multiplied by `scale`.
 */
export function packPanels(src: PanelSource, k: number, n: number, out: Float32Array, at: number, scale = 1): void {
    const nP = roundUp(n, PANEL);
  out.fill(0, at, at + k * nP);
  for (let p = 0; p < nP / PANEL; p++) {
    for (let r = 0; r < k; r++) {
      const dst = at + (p * k + r) * PANEL;
      const row = r * src.ld + src.col0;
      for (let c = 0; c < PANEL && p * PANEL + c < n; c++) out[dst + c] = src.data[row + p * PANEL + c] * scale;
    }
  }
}

/** Floats packPanels writes for w [k, n]. */
export function packedSize(k: number, n: number): number {
  return k * roundUp(n, PANEL);
}

interface Regs {
  f: FunctionBuilder;
  fma: boolean;
  add: boolean;
  a: Local; lda: Local; bias: Local; out: Local; ldc: Local;
  i: Local; n0: Local; panel: Local; panelBytes: Local; bp: Local; kEnd: Local; av: Local; t: Local;
  ap: Local[]; bv: Local[]; acc: Local[];
}

/**
 * One tile: R rows (from row i) x G panels (columns n0 .. n0 + 8G) in 2RG accumulators. NOTE: rows
 * short of a full MR tile take G > 1 panels at once, so that a single row (batch-1 decode) still
 * has 8 independent multiply-add chains; each output's arithmetic is the same in every tile shape.
 */
function tile(g: Regs, R: number, G: number): void {
  const { f } = g;
  for (let r = 0; r < R; r++) {
    // ap[r] = A + (i + r) * lda * 4
    f.get(g.i).i32(r).i32op('add').get(g.lda).i32op('mul').i32(2).i32op('shl').get(g.a).i32op('add').set(g.ap[r]);
  }
  for (let j = 0; j < 2 * R * G; j++) f.f32x4Const(0).set(g.acc[j]);
  f.get(g.panel).get(g.panelBytes).i32op('add').set(g.kEnd);
  f.forLoop(g.bp, () => f.get(g.panel), () => f.get(g.kEnd), PANEL * 4, () => {
    for (let p = 0; p < G; p++) {
      // Panel p of the tile starts p * panelBytes after the first; bp walks the first.
      const at = (v: number): void => {
        if (p === 0) f.get(g.bp).v128Load(16 * v);
        else f.get(g.bp).get(g.panelBytes).i32(p).i32op('mul').i32op('add').v128Load(16 * v);
      };
      at(0); f.set(g.bv[2 * p]);
      at(1); f.set(g.bv[2 * p + 1]);
    }
    for (let r = 0; r < R; r++) {
      f.get(g.ap[r]).load32Splat().set(g.av);
      for (let v = 0; v < 2 * G; v++) {
        const acc = g.acc[2 * G * r + v];
        if (g.fma) f.get(g.av).get(g.bv[v]).get(acc).v('f32x4.relaxed_madd').set(acc);
        else f.get(acc).get(g.av).get(g.bv[v]).v('f32x4.mul').v('f32x4.add').set(acc);
      }
    }
    for (let r = 0; r < R; r++) f.get(g.ap[r]).i32(4).i32op('add').set(g.ap[r]);
  });
  // Epilogue: + bias (+ out); bias vectors reuse the B registers.
  f.get(g.n0).i32(2).i32op('shl').get(g.bias).i32op('add').set(g.t);
  for (let v = 0; v < 2 * G; v++) f.get(g.t).v128Load(16 * v).set(g.bv[v]);
  for (let r = 0; r < R; r++) {
    // t = out + ((i + r) * ldc + n0) * 4
    f.get(g.i).i32(r).i32op('add').get(g.ldc).i32op('mul').get(g.n0).i32op('add').i32(2).i32op('shl').get(g.out).i32op('add').set(g.t);
    for (let v = 0; v < 2 * G; v++) {
      f.get(g.t);
      if (g.add) f.get(g.t).v128Load(16 * v);
      f.get(g.acc[2 * G * r + v]).get(g.bv[v]).v('f32x4.add');
      if (g.add) f.v('f32x4.add');
      f.v128Store(16 * v);
    }
  }
}

/** Panels per tile for R remainder rows (about 8 accumulators). */
const GROUP: Record<number, number> = { 1: 4, 2: 2, 3: 1 };

function buildGemm(fma: boolean, add: boolean): FunctionBuilder {
  const f = new FunctionBuilder(['i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32']);
  const [a, lda, b, bias, out, ldc, M, K, N] = [0, 1, 2, 3, 4, 5, 6, 7, 8].map((x) => f.param(x));
  const i32 = (): Local => f.local('i32');
  const v128 = (): Local => f.local('v128');
  const [i0, iEnd, i, n0, panel, bp, kEnd, t, panelBytes, full, nG] = Array.from({ length: 11 }, i32);
  const g: Regs = {
    f, fma, add, a, lda, bias, out, ldc, i, n0, panel, panelBytes, bp, kEnd, t, av: v128(),
    ap: Array.from({ length: MR }, i32), bv: Array.from({ length: 8 }, v128), acc: Array.from({ length: 8 }, v128),
  };
  // panel = B + (n0 / 8) * K * 32 = B + n0 * K * 4
  const setPanel = (): void => { f.get(n0).get(K).i32op('mul').i32(2).i32op('shl').get(b).i32op('add').set(panel); };
  f.get(K).i32(PANEL * 4).i32op('mul').set(panelBytes);
  f.forLoop(i0, () => f.i32(0), () => f.get(M), ROW_BLOCK, () => {
    // iEnd = min(i0 + ROW_BLOCK, M); full tiles of MR rows cover [i0, full).
    f.get(i0).i32(ROW_BLOCK).i32op('add').tee(iEnd).get(M).get(iEnd).get(M).i32op('lt_s').select().set(iEnd);
    f.get(iEnd).get(i0).i32op('sub').i32(-MR).i32op('and').get(i0).i32op('add').set(full);
    f.forLoop(n0, () => f.i32(0), () => f.get(N), PANEL, () => {
      setPanel();
      f.forLoop(i, () => f.get(i0), () => f.get(full), MR, () => tile(g, MR, 1));
    });
    f.get(full).set(i);
    for (let R = MR - 1; R >= 1; R--) {
      const G = GROUP[R];
      f.ifThen(() => { f.get(iEnd).get(full).i32op('sub').i32(R).i32op('eq'); }, () => {
        // Groups of G panels, then the last N % (8G) columns one panel at a time.
        f.get(N).i32(-PANEL * G).i32op('and').set(nG);
        f.forLoop(n0, () => f.i32(0), () => f.get(nG), PANEL * G, () => { setPanel(); tile(g, R, G); });
        if (G > 1) f.forLoop(n0, () => f.get(nG), () => f.get(N), PANEL, () => { setPanel(); tile(g, R, 1); });
      });
    }
  });
  return f;
}
