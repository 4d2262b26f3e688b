/**
 * Register-blocked GEMM kernels in WebAssembly SIMD for the model's dense layers:
 *   out[M, N] (row stride ldc) = A[M, K] (row stride lda) · B[K, N] + bias[N]      ('gemm')
 *   out[M, N] += A · B + bias                                                     ('gemmAdd': residual)
 *   out[M, N] = gelu_new(A · B + bias)                                          ('gemmGelu': mlp.c_fc)
 * B is packed at load into column panels of PANEL (12) floats: panel p holds B[k, 12p .. 12p + 12)
 * for every k, contiguously, and the last N % 12 columns (4 or 8) form one narrower panel of that
 * width ([K][N % 12], see packPanels); so panel p starts at float 12p * K in every case and the
 * inner loop streams one panel. A long K (a multiple of K_CHUNK above it) is packed as K / K_CHUNK
 * such matrices of K_CHUNK rows one after the other (chunkRows): a tile walks its panel's chunks
 * in turn, and a decode-sized block can take the chunks one at a time over all its columns.
 * The micro-kernel keeps a tile of MR (3) rows x 12 columns in 9 v128 accumulators: each k loads
 * three B vectors and splats one A float per row (9 multiply-adds per 6 loads), 15 of x64's 16
 * SIMD registers. Rows are taken in blocks of ROW_BLOCK (240); within a block each panel is read
 * once from memory (or the last-level cache) and every row tile of the block passes over it while
 * it sits in L1/L2, the last 1-4 rows of a block in 2-row tiles on the same panel, those first
 * (a block of one row: the single-row path below); a decode-sized block takes the panels in
 * groups of GROUP_BYTES, the first tile of every panel of a group before the others.
 * The multiply-add is `f32x4.mul` + `f32x4.add`, or `f32x4.relaxed_madd` (FMA where the CPU has
 * it) when the runtime supports relaxed SIMD (simd-features.ts): the two differ in rounding only.
 * NOTE: the k loop is not unrolled: unrolled, V8 hoisted the loads of several steps and spilled
 * accumulators (3x slower); it peels the loop once by itself. For the same reason (V8 schedules
 * all of a step's loads before its multiply-adds) tiles needing more than 16 registers (4 x 12,
 * 5 x 8, 6 x 8: 17-20) measured 2x slower. 3 x 12 runs 512-row GEMMs at the speed of 4 x 8 (~49
 * GFLOP/s here, ~90% of a loop of nothing but independent FMAs) and single rows (decode) about
 * 2x faster (their 2 x 12 columns fit the registers; 4 x 8 columns did not).
 * Invariants: N % 4 == 0 (callers pad the columns); for a chunked K, B is ldc columns wide (a
 * call on some of its columns passes them at b + c0 * chunkRows(K) * 4); every output element is the sum over k in
 * order 0..K-1 from one accumulator, then + bias (then + out): a row's result never depends on M
 * or on which tile it falls in, so batched rows are bitwise equal to the same rows alone.
 * All pointers are byte addresses in the imported memory; counts are in floats.
 */
import { geluConsts, geluNewF32x4, initGeluConsts, type GeluConsts } from './simd-math.js';
import { assembleModule, FunctionBuilder, type Local } from './wasm-assembler.js';
import { isShared, wasmApi, type WasmMemory } from './wasm-runtime.js';

/** Columns per packed B panel (three vectors). */
export const PANEL = 12;
/** Callers pad N (and bias, ldc) to a multiple of this: one vector. */
export const COLUMN_ALIGN = 4;
/** Rows per register tile. */
export const MR = 3;
/**
 * Rows per cache block (a multiple of MR). NOTE: 240 rather than 48: a block re-reads every
 * panel of B, and 48-row blocks read a 4 MB B (mlp.c_fc, mlp.c_proj of a 512-wide model) 11 times
 * per 512-row prefill; 192-288 measured 5-12% faster on those (A/B in one process), 24 slower.
 */
const ROW_BLOCK = 240;
/**
 * Blocks of at most GROUP_ROWS rows (decode batches) take the full panels in groups of about
 * GROUP_BYTES of B: the first tile of every panel of the group, then the other tiles of each (see
 * buildGemm). NOTE: 256 KB stays in a 1 MB L2 with the block's A rows; 96-768 KB all measured
 * within a few percent of each other, one panel at a time (24 KB for K = 512) 20-25% slower.
 */
const GROUP_BYTES = 256 * 1024;
const GROUP_ROWS = 64;
/**
 * Rows of B per chunk when K is a larger multiple of it (see chunkRows). NOTE: a decode-sized
 * block with a scratch (createGemmKernels) takes one chunk of K over all its columns (in panel
 * groups), then the next, continuing each accumulator from the partial sum stored after the
 * previous chunk (bitwise the sum in order 0..K-1): the block's A slice (16 rows x 2 KB) then
 * stays in L1 while B streams, and the chunks lie one after the other, so B is still one
 * sequential stream. Over whole rows of a long K (2048) the B stream evicted A from L1 between
 * panels; with the panels unchunked, a chunk of K per panel would read B in 24 KB runs 96 KB
 * apart (each restarting the prefetcher), and chunk by chunk per panel group in 240 KB runs
 * made single rows (all streaming) ~30% slower.
 */
const K_CHUNK = 512;
/** Most rows of a block that takes a chunked K chunk by chunk (see K_CHUNK). */
export const CHUNK_ROWS = 16;

/** Rows per packed chunk of B for a GEMM of depth k: K_CHUNK when k is a larger multiple of it, else k. */
export function chunkRows(k: number): number {
  return k > K_CHUNK && k % K_CHUNK === 0 ? K_CHUNK : k;
}

/** gemm(A, lda, B, bias, out, ldc, M, K, N): see the header. */
export type GemmFn = (a: number, lda: number, b: number, bias: number, out: number, ldc: number, m: number, k: number, n: number) => void;

/** What a tile does with its sums (+ bias): store them, add them to out, or store their gelu_new. */
type Epilogue = 'store' | 'add' | 'gelu';

/** The compiled kernels. */
export interface GemmKernels {
  gemm: GemmFn;
  gemmAdd: GemmFn;
  /** gelu_new in the epilogue: the same values as gemm then gelu, in one pass. */
  gemmGelu: GemmFn;
  /** Whether the multiply-adds are relaxed (fused) ones. */
  readonly fma: boolean;
}

/**
 * Compiles the kernels against `memory`; `fma` needs a runtime with relaxed SIMD. For each A row
 * stride (lda) in `strides` a copy of the kernels is compiled with that stride fixed, and a call
 * with that lda runs it (bitwise the same results); other strides run the general kernels.
 * NOTE: with the stride known, a tile's rows are constant offsets from one pointer, which saves
 * two pointer increments per k step of the 3-row tile (measured 2-4% on 512-row GEMMs).
 * `scratch`: byte address of CHUNK_ROWS rows of `scratchCols` floats this thread's calls may use
 * for partial sums (a chunked K in blocks of at most CHUNK_ROWS rows with ldc <= scratchCols,
 * see K_CHUNK); null: chunks inside each tile only.
 */
export function createGemmKernels(memory: WasmMemory, fma: boolean, strides: readonly number[] = [], scratch: { at: number; cols: number } | null = null): GemmKernels {
  const names = { gemm: 'store', gemmAdd: 'add', gemmGelu: 'gelu' } as const;
  const fixed = [...new Set(strides)];
  const fns = [null, ...fixed].flatMap((lda) => Object.entries(names).map(([name, epilogue]) => ({ name: lda === null ? name : `${name}_${lda}`, fn: buildGemm(fma, epilogue, lda, scratch) })));
  const { exports } = new wasmApi.Instance(new wasmApi.Module(assembleModule(fns, isShared(memory))), { env: { memory } });
  const pick = (name: string): GemmFn => {
    const general = exports[name] as GemmFn;
    if (fixed.length === 0) return general;
    const byStride = new Map(fixed.map((lda) => [lda, exports[`${name}_${lda}`] as GemmFn]));
    return (a, lda, b, bias, out, ldc, m, k, n) => (byStride.get(lda) ?? general)(a, lda, b, bias, out, ldc, m, k, n);
  };
  return { gemm: pick('gemm'), gemmAdd: pick('gemmAdd'), gemmGelu: pick('gemmGelu'), fma };
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
 * Packs w [k, n] (read from `src`) into panels in `out` at float offset `at` (see the header:
 * full panels of 12 columns, then one of the remaining nP % 12; nP = roundUp(n, 4), pad columns
 * are zero; chunks of chunkRows(k) rows one after the other), each value multiplied by `scale`.
 */
export function packPanels(src: PanelSource, k: number, n: number, out: Float32Array, at: number, scale = 1): void {
  const nP = roundUp(n, COLUMN_ALIGN);
  const kc = chunkRows(k);
  out.fill(0, at, at + k * nP);
  for (let k0 = 0; k0 < k; k0 += kc) {
    for (let c0 = 0; c0 < nP; c0 += PANEL) {
      const width = Math.min(PANEL, nP - c0);
      for (let r = 0; r < kc; r++) {
        const dst = at + k0 * nP + c0 * kc + r * width;
        const row = (k0 + r) * src.ld + src.col0 + c0;
        for (let c = 0; c < width && c0 + c < n; c++) out[dst + c] = src.data[row + c] * scale;
      }
    }
  }
}

/** Floats packPanels writes for w [k, n]. */
export function packedSize(k: number, n: number): number {
  return k * roundUp(n, COLUMN_ALIGN);
}

interface Regs {
  f: FunctionBuilder;
  fma: boolean;
  epilogue: Epilogue;
  /** gelu_new's constants and scratch (the 'gelu' epilogue only). */
  gelu: { k: GeluConsts; x: Local; t1: Local; t2: Local } | null;
  /** A's row stride when fixed at compile time (rows are offsets from ap[0]), else null (one pointer per row). */
  lda: number | null;
  a: Local; ldaParam: Local; b: Local; bias: Local; out: Local; ldc: Local; K: Local;
  i: Local; n0: Local; panel: Local; fullBytes: Local; bp: Local; kEnd: Local; av: Local; t: Local;
  /** Chunk rows, bytes from one chunk's panels to the next's, chunk count, chunk counters (see K_CHUNK). */
  kc: Local; chunkBytes: Local; nCh: Local; ch: Local; chw: Local;
  /** Partial-sum scratch (null: none) and the block's first row. */
  scratch: { at: number; cols: number } | null; i0: Local;
  ap: Local[]; bv: Local[]; acc: Local[];
}

/** panel = B + n0 * kc * 4: where chunk 0 of the panel of column n0 starts (every panel before it is full). */
function setPanel(g: Regs): void {
  g.f.get(g.n0).get(g.kc).i32op('mul').i32(2).i32op('shl').get(g.b).i32op('add').set(g.panel);
}

/** t = scratch + ((i + r - i0) * ldc + n0) * 4: row r's partial sums of the tile. */
function partialAddr(g: Regs, r: number): void {
  const { f } = g;
  f.get(g.i).i32(r).i32op('add').get(g.i0).i32op('sub').get(g.ldc).i32op('mul');
  f.get(g.n0).i32op('add').i32(2).i32op('shl').i32(g.scratch?.at ?? 0).i32op('add').set(g.t);
}

/**
 * One tile: R rows (from row i) x G panels of W vectors each (columns n0 .. n0 + 4WG) in RWG
 * accumulators; G > 1 only for full panels (W = 3), which lie fullBytes apart. NOTE: a single row
 * (batch-1 decode, remainders) takes G = 2 panels at once, so that it still has 6 independent
 * multiply-add chains; each output's arithmetic is the same in every tile shape.
 * `part`: chunk ch of K only, from the partial sums after chunk ch - 1 (none for ch = 0), storing
 * its own unless it is the last chunk (then the epilogue); otherwise every chunk, in order.
 */
function tile(g: Regs, R: number, W: number, G: number, part = false): void {
  const { f } = g;
  const V = W * G;
  setPanel(g);
  if (part) f.get(g.ch).get(g.chunkBytes).i32op('mul').get(g.panel).i32op('add').set(g.panel);
  const pointers = g.lda === null ? R : 1;
  for (let r = 0; r < pointers; r++) {
    // ap[r] = A + (i + r) * lda * 4 (+ ch * kc * 4)
    f.get(g.i).i32(r).i32op('add').get(g.ldaParam).i32op('mul').i32(2).i32op('shl').get(g.a).i32op('add');
    if (part) f.get(g.ch).get(g.kc).i32op('mul').i32(2).i32op('shl').i32op('add');
    f.set(g.ap[r]);
  }
  for (let j = 0; j < R * V; j++) f.f32x4Const(0).set(g.acc[j]);
  if (part) {
    f.ifThen(() => f.get(g.ch), () => {
      for (let r = 0; r < R; r++) {
        partialAddr(g, r);
        for (let v = 0; v < V; v++) f.get(g.t).v128Load(16 * v).set(g.acc[V * r + v]);
      }
    });
    kLoop(g, R, W, G, V);
    f.ifThen(() => { f.get(g.ch).i32(1).i32op('add').get(g.nCh).i32op('eq').i32op('eqz'); }, () => {
      for (let r = 0; r < R; r++) {
        partialAddr(g, r);
        for (let v = 0; v < V; v++) f.get(g.t).get(g.acc[V * r + v]).v128Store(16 * v);
      }
    });
    f.ifThen(() => { f.get(g.ch).i32(1).i32op('add').get(g.nCh).i32op('eq'); }, () => epilogue(g, R, V));
    return;
  }
  f.forLoop(g.chw, () => f.i32(0), () => f.get(g.nCh), 1, () => {
    kLoop(g, R, W, G, V);
    f.get(g.panel).get(g.chunkBytes).i32op('add').set(g.panel);
  });
  epilogue(g, R, V);
}

/** The k loop of a tile over one chunk of its panel (at `panel`): kc steps. */
function kLoop(g: Regs, R: number, W: number, G: number, V: number): void {
  const { f } = g;
  const pointers = g.lda === null ? R : 1;
  // kEnd = panel + kc * W * 16
  f.get(g.kc).i32(W * 16).i32op('mul').get(g.panel).i32op('add').set(g.kEnd);
  f.forLoop(g.bp, () => f.get(g.panel), () => f.get(g.kEnd), W * 16, () => {
    for (let p = 0; p < G; p++) {
      for (let w = 0; w < W; w++) {
        // Panel p of the tile starts p * fullBytes after the first; bp walks the first.
        if (p === 0) f.get(g.bp);
        else f.get(g.bp).get(g.fullBytes).i32(p).i32op('mul').i32op('add');
        f.v128Load(16 * w).set(g.bv[p * W + w]);
      }
    }
    for (let r = 0; r < R; r++) {
      if (g.lda === null) f.get(g.ap[r]).load32Splat().set(g.av);
      else f.get(g.ap[0]).load32Splat(r * g.lda * 4).set(g.av);
      for (let v = 0; v < V; v++) {
        const acc = g.acc[V * r + v];
        if (g.fma) f.get(g.av).get(g.bv[v]).get(acc).v('f32x4.relaxed_madd').set(acc);
        else f.get(acc).get(g.av).get(g.bv[v]).v('f32x4.mul').v('f32x4.add').set(acc);
      }
    }
    for (let r = 0; r < pointers; r++) f.get(g.ap[r]).i32(4).i32op('add').set(g.ap[r]);
  });
}

/** A tile's epilogue: + bias (+ out, or gelu); bias vectors reuse the B registers. Vector v covers columns n0 + 4v. */
function epilogue(g: Regs, R: number, V: number): void {
  const { f } = g;
  f.get(g.n0).i32(2).i32op('shl').get(g.bias).i32op('add').set(g.t);
  for (let v = 0; v < V; v++) f.get(g.t).v128Load(16 * v).set(g.bv[v]);
  if (g.gelu !== null) initGeluConsts(f, g.gelu.k);
  for (let r = 0; r < R; r++) {
    // t = out + ((i + r) * ldc + n0) * 4
    f.get(g.i).i32(r).i32op('add').get(g.ldc).i32op('mul').get(g.n0).i32op('add').i32(2).i32op('shl').get(g.out).i32op('add').set(g.t);
    for (let v = 0; v < V; v++) {
      f.get(g.t);
      if (g.epilogue === 'add') f.get(g.t).v128Load(16 * v);
      f.get(g.acc[V * r + v]).get(g.bv[v]).v('f32x4.add');
      if (g.epilogue === 'add') f.v('f32x4.add');
      if (g.gelu !== null) {
        const { k, x, t1, t2 } = g.gelu;
        f.set(x);
        geluNewF32x4(f, k, x, t1, t2);
      }
      f.v128Store(16 * v);
    }
  }
}

function buildGemm(fma: boolean, epilogue: Epilogue, lda: number | null, scratch: { at: number; cols: number } | null): FunctionBuilder {
  const f = new FunctionBuilder(['i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32']);
  const [a, ldaParam, b, bias, out, ldc, M, K, N] = [0, 1, 2, 3, 4, 5, 6, 7, 8].map((x) => f.param(x));
  const i32 = (): Local => f.local('i32');
  const v128 = (): Local => f.local('v128');
  const [i0, iEnd, i, n0, panel, bp, kEnd, t, fullBytes, full, nFull, nPair, tail, n0g, gEnd, groupCols, rest] = Array.from({ length: 17 }, i32);
  const [kc, chunkBytes, nCh, ch, chw] = Array.from({ length: 5 }, i32);
  const g: Regs = {
    f, fma, epilogue, gelu: epilogue === 'gelu' ? { k: geluConsts(f), x: v128(), t1: v128(), t2: v128() } : null, lda, a, ldaParam, b, bias, out, ldc, K, i, n0, panel, fullBytes, bp, kEnd, t, av: v128(),
    kc, chunkBytes, nCh, ch, chw, scratch, i0,
    ap: Array.from({ length: MR }, i32), bv: Array.from({ length: 6 }, v128), acc: Array.from({ length: 9 }, v128),
  };
  // kc = chunkRows(K); chunks of kc * ldc floats (B is ldc wide, see the header); nCh = K / kc
  f.i32(K_CHUNK).get(K).get(K).i32(K_CHUNK).i32op('gt_s').get(K).i32(K_CHUNK - 1).i32op('and').i32op('eqz').i32op('and').select().set(kc);
  f.get(kc).get(ldc).i32op('mul').i32(2).i32op('shl').set(chunkBytes);
  f.get(K).get(kc).i32op('div_u').set(nCh);
  f.get(kc).i32(PANEL * 4).i32op('mul').set(fullBytes);
  // nFull = N - N % 12: columns in full panels; tail = N % 12 (0, 4 or 8); nPair: full panels in pairs.
  f.get(N).get(N).i32(PANEL).i32op('rem_u').tee(tail).i32op('sub').set(nFull);
  f.get(nFull).get(nFull).i32(2 * PANEL).i32op('rem_u').i32op('sub').set(nPair);
  /** Whether the block [i0, iEnd) takes the chunks of K one at a time (see K_CHUNK). */
  const chunked = (): void => {
    f.get(nCh).i32(1).i32op('gt_s').get(iEnd).get(i0).i32op('sub').i32(CHUNK_ROWS).i32op('le_s').i32op('and');
    f.get(ldc).i32(scratch?.cols ?? 0).i32op('le_s').i32op('and');
  };
  /** A single row (i = i0) over every column, full panels two at a time. */
  const singleRow = (): void => {
    f.get(i0).set(i);
    const pairs = (): void => { f.forLoop(n0, () => f.i32(0), () => f.get(nPair), PANEL * 2, () => tile(g, 1, 3, 2)); };
    if (scratch === null) pairs();
    else {
      // A chunked K: chunk by chunk over the full panels, one at a time (see K_CHUNK).
      // NOTE: two panels at a time read two 24 KB runs side by side per tile (30-40% slower).
      f.ifThen(chunked, () => {
        f.forLoop(ch, () => f.i32(0), () => f.get(nCh), 1, () => {
          f.forLoop(n0, () => f.i32(0), () => f.get(nFull), PANEL, () => tile(g, 1, 3, 1, true));
        });
      });
      f.ifThen(() => { chunked(); f.i32op('eqz'); }, () => {
        pairs();
        f.forLoop(n0, () => f.get(nPair), () => f.get(nFull), PANEL, () => tile(g, 1, 3, 1));
      });
    }
    if (scratch === null) f.forLoop(n0, () => f.get(nPair), () => f.get(nFull), PANEL, () => tile(g, 1, 3, 1));
    f.get(nFull).set(n0);
    f.ifThen(() => { f.get(tail).i32(8).i32op('eq'); }, () => tile(g, 1, 2, 1));
    f.ifThen(() => { f.get(tail).i32(4).i32op('eq'); }, () => tile(g, 1, 1, 1));
  };
  /**
   * Every row tile of the block on the panel at n0 (W vectors wide): the 2-row tiles of rows
   * [full, iEnd) first, then the MR-row tiles of [i0, full).
   * NOTE: the first tile on a panel streams it from memory, the others find it in L1/L2. A
   * 2-row tile has fewer instructions per byte of B than a 3-row one, so the out-of-order window
   * keeps more of the panel's cache misses in flight: a batch of 8 (tiles 2 + 3 + 3) measured
   * 7-9% faster over a decode step's 96 MB of weights than 3 + 3 + 2 (A/B in one process).
   */
  const panelTiles = (W: number): void => {
    f.forLoop(i, () => f.get(full), () => f.get(iEnd), 2, () => tile(g, 2, W, 1));
    f.forLoop(i, () => f.get(i0), () => f.get(full), MR, () => tile(g, MR, W, 1));
  };
  f.forLoop(i0, () => f.i32(0), () => f.get(M), ROW_BLOCK, () => {
    // iEnd = min(i0 + ROW_BLOCK, M)
    f.get(i0).i32(ROW_BLOCK).i32op('add').tee(iEnd).get(M).get(iEnd).get(M).i32op('lt_s').select().set(iEnd);
    f.ifThen(() => { f.get(iEnd).get(i0).i32op('sub').i32(1).i32op('eq'); }, singleRow);
    f.ifThen(() => { f.get(iEnd).get(i0).i32op('sub').i32(1).i32op('gt_s'); }, () => {
      // Rows [i0, full) in MR-row tiles, the last 0, 2 or 4 rows ((3 - rows % 3) * 2 % 6) in 2-row tiles.
      f.get(iEnd).i32(MR).get(iEnd).get(i0).i32op('sub').i32(MR).i32op('rem_u').i32op('sub').i32(2).i32op('mul').i32(2 * MR).i32op('rem_u').i32op('sub').set(full);
      // NOTE: columns outside, every row tile inside: each panel is read from memory once per
      // block and reused from cache by the block's other tiles (a decode batch of 8 reads the
      // weights once, not once for its 3-row tiles and again for its last 2 rows). The first
      // tile on a panel streams it from memory while the others compute from cache, and one
      // thread cannot overlap the two (no prefetch in WebAssembly; loads touching ahead stall
      // retirement): so for decode-sized blocks the first tiles of a group of panels run back to
      // back, one long stream that the hardware prefetcher keeps up with, before the rest of
      // each panel's tiles (on B in L2). Panel by panel, each 24 KB stream (K = 512) restarted
      // cold after a pause: a batch of 8 over 96 MB of weights measured 20-25% slower (A/B in one
      // process), a batch of 32 7-10%.
      // groupCols = PANEL * max(1, GROUP_BYTES / fullBytes) for blocks of <= GROUP_ROWS rows, else PANEL
      f.i32(GROUP_BYTES).get(fullBytes).i32op('div_u').tee(t).i32(1).get(t).i32(1).i32op('gt_s').select().i32(PANEL).i32op('mul').set(groupCols);
      f.i32(PANEL).get(groupCols).get(iEnd).get(i0).i32op('sub').i32(GROUP_ROWS).i32op('gt_s').select().set(groupCols);
      // the first tile of each panel: the 2-row tiles, or (none) the first MR-row tile
      f.get(i0).i32(MR).i32op('add').get(i0).get(full).get(iEnd).i32op('eq').select().set(rest);
      const groups = (part: boolean): void => { f.forLoop(n0g, () => f.i32(0), () => f.get(nFull), () => f.get(groupCols), () => {
        f.get(n0g).get(groupCols).i32op('add').tee(gEnd).get(nFull).get(gEnd).get(nFull).i32op('lt_s').select().set(gEnd);
        const pass = (part: boolean): void => {
          f.forLoop(n0, () => f.get(n0g), () => f.get(gEnd), PANEL, () => {
            f.forLoop(i, () => f.get(full), () => f.get(iEnd), 2, () => tile(g, 2, 3, 1, part));
            f.forLoop(i, () => f.get(i0), () => f.get(rest), MR, () => tile(g, MR, 3, 1, part));
          });
          f.forLoop(n0, () => f.get(n0g), () => f.get(gEnd), PANEL, () => {
            f.forLoop(i, () => f.get(rest), () => f.get(full), MR, () => tile(g, MR, 3, 1, part));
          });
        };
        pass(part);
      }); };
      if (scratch === null) groups(false);
      else {
        // A chunked K in a small block: chunk by chunk, each over every panel group (see K_CHUNK).
        f.ifThen(chunked, () => f.forLoop(ch, () => f.i32(0), () => f.get(nCh), 1, () => groups(true)));
        f.ifThen(() => { chunked(); f.i32op('eqz'); }, () => groups(false));
      }
      f.get(nFull).set(n0);
      f.ifThen(() => { f.get(tail).i32(8).i32op('eq'); }, () => panelTiles(2));
      f.ifThen(() => { f.get(tail).i32(4).i32op('eq'); }, () => panelTiles(1));
    });
  });
  return f;
}
