/// <reference types="@webgpu/types" />
/**
 * WGSL matmuls of the hand-built pipeline: O = epilogue(A W + B) with A [M, K] row-major, W [K, N]
 * (Conv1D layout), bias B [N], optional residual R [M, N]. Three kernels, chosen per call shape by
 * chooseMatmul (deterministic in (M, K, N), so a given call always rounds the same way):
 *  - small: few rows (decode), latency-oriented, W streamed once per workgroup row;
 *  - blocked: register-blocked shared-memory tiles (BM x 64 per workgroup, TM x 4 outputs a thread,
 *    vec4 loads, next K tile prefetched into registers), optionally split over K (partials reduced
 *    by splitReduceWgsl, which applies the epilogue);
 *  - tiled: the earlier shared-memory kernel, kept for widths that are not a multiple of 4.
 * Invariants: reads are clamped to valid rows, writes guarded; barriers sit in uniform control flow.
 */
import { BLOCK, blockFits, matmulBlockedWgsl, REDUCE_NORM_MAX_N, splitReduceNormWgsl, splitReduceWgsl, type BlockTile } from './blocked-matmul.js';
import { META, epilogueWgsl, f, type Epilogue } from './fast-kernels.js';
import type { Binding, DispatchRecorder, Step } from './fast-plan.js';

function bindings(ep: Epilogue, N: number): string {
  return `${META}
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> W: array<f32>;
@group(0) @binding(3) var<storage, read> B: array<f32>;
@group(0) @binding(4) var<storage, read_write> O: array<f32>;
${epilogueWgsl(ep, N, false, 5)}`;
}

/** Columns per workgroup, K-groups, k unroll and reduction chunk (rows) of the small-M matmul. */
export const SMALL = { TN: 8, KG: 32, U: 4, CHUNK: 8 } as const;

/**
 * O = epilogue(A W + B) for few rows (decode), RB rows per workgroup (RB a power of two, chosen
 * per call by smallRows, so no work is spent on absent rows): a
 * workgroup of 256 = KG K-groups x TN columns (TN floats = one 32-byte sector of a W row), each
 * thread accumulating RB rows over its k's with U independent W loads in flight per iteration
 * (decode matmuls are bound by load latency, so many small workgroups and unrolled loads), then a
 * reduction over the K-groups, CHUNK rows at a time through workgroup memory.
 * With `ln` (an epsilon), A is LayerNorm-normalized on the fly: every workgroup first reduces its
 * RB rows' mean and variance over K (two passes, all rows at once through workgroup memory; a row
 * is K floats, cheap next to streaming W), then each A load becomes (a - mean) * rstd. That
 * removes the normalize dispatch before every decode matmul of a LayerNorm.
 */
export function matmulSmallWgsl(K: number, N: number, ep: Epilogue, RB: number, ln: number | null = null): string {
  const { TN, KG, U } = SMALL;
  const CH = Math.min(RB, SMALL.CHUNK);
  const aAt = (r: number, idx: string): string => (ln === null ? `A[${idx}]` : `((A[${idx}] - lm${r}) * li${r})`);
  const rows = Array.from({ length: RB }, (_, r) => r);
  const us = Array.from({ length: U }, (_, u) => u);
  const step = KG * U;
  const main = Math.floor(K / step) * step;
  const chunks = Array.from({ length: RB / CH }, (_, c) => c);
  return `${bindings(ep, N)}
var<workgroup> red: array<f32, ${Math.max(KG * CH * TN, ln === null ? 0 : 256 * RB)}>;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let M = info[0];
  let lid = i32(li);
  let cl = lid % ${TN};
  let kg = lid / ${TN};
  let col0 = i32(wg.x) * ${TN};
  let row0 = i32(wg.y) * ${RB};
  let col = min(col0 + cl, ${N - 1});
${rows.map((r) => `  let ar${r} = min(row0 + ${r}, M - 1) * ${K};\n  var a${r} = 0.0;`).join('\n')}
${ln === null ? '' : smallNormPrologue(K, RB, ln)}
  for (var k = kg; k < ${main}; k = k + ${step}) {
${us.map((u) => `    let w${u} = W[(k + ${u * KG}) * ${N} + col];`).join('\n')}
${rows.map((r) => `    a${r} = a${r} + ${us.map((u) => `${aAt(r, `ar${r} + k + ${u * KG}`)} * w${u}`).join(' + ')};`).join('\n')}
  }
  for (var k = ${main} + kg; k < ${K}; k = k + ${KG}) {
    let w = W[k * ${N} + col];
${rows.map((r) => `    a${r} = a${r} + ${aAt(r, `ar${r} + k`)} * w;`).join('\n')}
  }
${chunks.map((c) => `${rows.slice(c * CH, (c + 1) * CH).map((r) => `  red[(kg * ${CH} + ${r - c * CH}) * ${TN} + cl] = a${r};`).join('\n')}
  workgroupBarrier();
  if (lid < ${CH * TN}) { reduceStore(lid, row0 + ${c * CH}, col0, M); }
  workgroupBarrier();`).join('\n')}
}
fn reduceStore(lid: i32, rowBase: i32, col0: i32, M: i32) {
  let r = lid / ${TN};
  let c = lid % ${TN};
  var s = 0.0;
  for (var g = 0; g < ${KG}; g = g + 1) { s = s + red[(g * ${CH} + r) * ${TN} + c]; }
  let row = rowBase + r;
  let oc = col0 + c;
  if (row < M && oc < ${N}) { store(row, oc, s); }
}`;
}

/**
 * The small-M kernel's LayerNorm prologue: lm_r / li_r = mean and 1 / sqrt(var + eps) of row r
 * (rows ar_r), reduced by all 256 threads for the RB rows at once (red[r * 256 + lid]); two
 * passes like normalizeWgsl. Ends with a barrier, so `red` is free again for the K-group reduction.
 */
function smallNormPrologue(K: number, RB: number, eps: number): string {
  const rows = Array.from({ length: RB }, (_, r) => r);
  const pass = (p: string, value: (r: number) => string, out: (r: number) => string): string => `${rows.map((r) => `  var ${p}${r} = 0.0;`).join('\n')}
  for (var k = lid; k < ${K}; k = k + 256) {
${rows.map((r) => `    ${p}${r} = ${p}${r} + ${value(r)};`).join('\n')}
  }
${rows.map((r) => `  red[${r * 256} + lid] = ${p}${r};`).join('\n')}
  workgroupBarrier();
  for (var s = 128; s > 0; s = s / 2) {
    if (lid < s) {
${rows.map((r) => `      red[${r * 256} + lid] = red[${r * 256} + lid] + red[${r * 256} + lid + s];`).join('\n')}
    }
    workgroupBarrier();
  }
${rows.map((r) => `  ${out(r)}`).join('\n')}
  workgroupBarrier();`;
  const mean = pass('lnS', (r) => `A[ar${r} + k]`, (r) => `let lm${r} = red[${r * 256}] / ${f(K)};`);
  const vari = pass('lnQ', (r) => `(A[ar${r} + k] - lm${r}) * (A[ar${r} + k] - lm${r})`, (r) => `let li${r} = inverseSqrt(red[${r * 256}] / ${f(K)} + ${f(eps)});`);
  return `${mean}\n${vari}`;
}

/**
 * Rows per workgroup of the small-M matmul for M rows: M rounded up to a power of two, at most 8.
 * NOTE: measured on an H200 (8x512, batch 32): 32 rows per workgroup (W read once) took 6.5 ms a
 * step against 4.1 ms for 8 (four workgroup rows, W re-read from L2): the 32-accumulator variant
 * is bound by its A loads and registers.
 */
export function smallRows(M: number): number {
  let rb = 1;
  while (rb < M && rb < 8) rb *= 2;
  return rb;
}

/** Tile of the earlier large-M matmul: 16 x RT rows by 64 columns per workgroup of 256, K steps of 16. */
export const TILE = { BN: 64, BK: 16 } as const;

/**
 * The earlier large-M kernel (any N): shared-memory tiles of (16 * RT) x 64 outputs, each thread
 * RT rows x 4 columns (vec4 of W). Used where N is not a multiple of 4 (vec4 rows impossible).
 */
export function matmulTiledWgsl(K: number, N: number, ep: Epilogue, RT: number): string {
  const { BN, BK } = TILE;
  const BM = 16 * RT;
  const rs = Array.from({ length: RT }, (_, i) => i);
  const aLoads = (BM * BK) / 256;
  return `${bindings(ep, N)}
var<workgroup> As: array<f32, ${BK * BM}>;
var<workgroup> Ws: array<vec4<f32>, ${(BK * BN) / 4}>;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let M = info[0];
  let lid = i32(li);
  let tx = lid % 16;
  let ty = lid / 16;
  let col0 = i32(wg.x) * ${BN};
  let row0 = i32(wg.y) * ${BM};
${rs.map((i) => `  var acc${i} = vec4<f32>(0.0);`).join('\n')}
  for (var k0 = 0; k0 < ${K}; k0 = k0 + ${BK}) {
    for (var i = 0; i < ${aLoads}; i = i + 1) {
      let e = lid + i * 256;
      let m = e / ${BK};
      let kk = e % ${BK};
      var av = 0.0;
      if (k0 + kk < ${K}) { av = A[min(row0 + m, M - 1) * ${K} + k0 + kk]; }
      As[kk * ${BM} + m] = av;
    }
    for (var i = 0; i < 4; i = i + 1) {
      let e = lid + i * 256;
      let kw = k0 + e / ${BN};
      let n = e % ${BN};
      var wv = 0.0;
      if (kw < ${K} && col0 + n < ${N}) { wv = W[kw * ${N} + col0 + n]; }
      Ws[(e / ${BN}) * ${BN / 4} + n / 4][n % 4] = wv;
    }
    workgroupBarrier();
    for (var kk = 0; kk < ${BK}; kk = kk + 1) {
      let b = Ws[kk * ${BN / 4} + tx];
      let ab = kk * ${BM} + ty * ${RT};
${rs.map((i) => `      acc${i} = acc${i} + As[ab + ${i}] * b;`).join('\n')}
    }
    workgroupBarrier();
  }
  let accs = array<vec4<f32>, ${RT}>(${rs.map((i) => `acc${i}`).join(', ')});
  for (var i = 0; i < ${RT}; i = i + 1) {
    let row = row0 + ty * ${RT} + i;
    for (var j = 0; j < 4; j = j + 1) {
      let col = col0 + tx * 4 + j;
      if (row < M && col < ${N}) { store(row, col, accs[i][j]); }
    }
  }
}`;
}

/** Rows per thread of the tiled matmul: 4, or 2 where 64-row tiles would leave SMs idle. */
export function tiledRows(M: number, N: number): number {
  return Math.ceil(N / TILE.BN) * Math.ceil(M / 64) >= 264 ? 4 : 2;
}

/** How one matmul call runs. */
export type MatmulChoice =
  | { kind: 'small'; rows: number }
  | { kind: 'tiled'; rows: number }
  | { kind: 'blocked'; tile: BlockTile };

/** Rows at or below which the small-M kernel runs (decode batches). */
export const SMALL_M = 32;

/**
 * Workgroups a blocked matmul aims for: two per SM of an H100/H200 (132 SMs).
 * NOTE: WebGPU does not report the SM count; on a smaller GPU this only over-splits a little.
 */
const TARGET_GROUPS = 256;
/** K per slice below which a matmul is not split further. */
const MIN_SLICE = 256;

/**
 * A rule for every M: blocked tiles BM x 64 (TM rows a thread), split over K until `target`
 * workgroups while a slice keeps at least `minSlice` of K (the profile compares such rules).
 */
export function blockedRule(BM: number, TM: number, target: number, minSlice: number): (M: number, K: number, N: number) => MatmulChoice {
  return (M, K, N) => {
    const groups = Math.ceil(N / BLOCK.BN) * Math.ceil(M / BM);
    let split = 1;
    while (groups * split < target && K / (2 * split) >= minSlice && K % (BLOCK.BK * 2 * split) === 0) split *= 2;
    const tile: BlockTile = { BM, TM, split };
    return blockFits(K, N, tile) ? { kind: 'blocked', tile } : { kind: 'tiled', rows: tiledRows(Math.max(M, SMALL_M + 1), N) };
  };
}

/**
 * The kernel and tiling of an M x K x N matmul (a pure function of the shape, so every call of a
 * shape rounds alike). Measured in place on an H200 (profile "matmul rules in place", whole plans):
 *  - wide shapes (K and N >= 512, the 8x512 model): 128 x 64 tiles of 8 x 4 per thread, split over
 *    K to ~256 workgroups (8x512 prefill 512: 1.54 ms a pass against 1.80 for the rule below), and
 *    for batches above 8 rows the same with 16/32-row tiles instead of the small-M kernel (8x512
 *    decode b=32: 0.83 ms against 1.00);
 *  - otherwise the small-M kernel for decode rows, else 64-row tiles where they give at least one
 *    workgroup per SM, 32-row ones otherwise, split over K to ~256 workgroups (best for 4x256).
 * The tiled kernel serves widths that are not a multiple of 4.
 */
export function chooseMatmul(M: number, K: number, N: number): MatmulChoice {
  const wide = K >= 512 && N >= 512;
  if (M <= SMALL_M) return wide && M > 8 ? blockedRule(M <= 16 ? 16 : 32, 4, TARGET_GROUPS, 64)(M, K, N) : { kind: 'small', rows: smallRows(M) };
  if (wide) return blockedRule(128, 8, TARGET_GROUPS, 128)(M, K, N);
  const BM = Math.ceil(N / BLOCK.BN) * Math.ceil(M / 64) >= 132 ? 64 : 32;
  return blockedRule(BM, 4, TARGET_GROUPS, MIN_SLICE)(M, K, N);
}

/** One matmul of a plan: shape, buffers and labels. */
export interface MatmulCall {
  M: number;
  K: number;
  N: number;
  ep: Epilogue;
  meta: GPUBuffer;
  a: GPUBuffer;
  w: GPUBuffer;
  b: GPUBuffer;
  o: GPUBuffer;
  /** The epilogue's bindings: [R] for 'residual', [pool, kvOut window] for 'kv', else []. */
  extra: Binding[];
  /** The split-K partials buffer, at least `floats` long. */
  part: (floats: number) => GPUBuffer;
  /** LayerNorm epsilon when A is normalized on the fly (blocked and small kernels), else null. */
  ln: number | null;
  /**
   * A residual matmul whose output a LayerNorm reads next: where it is split over K, its reduce
   * also writes that LayerNorm to `h` (see recordMatmul), else null.
   */
  normOut: { h: GPUBuffer; eps: number } | null;
  /** Bind-group tag (one per call site) and profile label. */
  tag: string;
  label: string;
}

/** Records the dispatches of one matmul with kernel choice `c` (two for a split-K blocked one). */
/**
 * Records the dispatches of one matmul; returns whether its output's LayerNorm was also written to
 * m.normOut.h (a split-K residual matmul whose rows fit the fused reduce), so the caller skips it.
 */
export function recordMatmul(rec: DispatchRecorder, steps: Step[], c: MatmulChoice, m: MatmulCall): boolean {
  const { M, K, N, ep, tag, label } = m;
  if (m.ln !== null && c.kind === 'tiled') throw new Error(`matmul ${label}: the LayerNorm prologue needs the blocked or small kernel, not ${c.kind}`);
  const shape = `${K}_${N}_${ep}`;
  const direct = [m.meta, m.a, m.w, m.b, m.o, ...m.extra];
  if (c.kind === 'small') {
    const kind = `mms${c.rows}${m.ln === null ? '' : `ln${m.ln}`}_${shape}`;
    rec.dispatch(steps, { kind, code: () => matmulSmallWgsl(K, N, ep, c.rows, m.ln), bufs: direct, grid: [Math.ceil(N / SMALL.TN), Math.ceil(M / c.rows)], tag, label });
    return false;
  }
  if (c.kind === 'tiled') {
    rec.dispatch(steps, { kind: `mmt${c.rows}_${shape}`, code: () => matmulTiledWgsl(K, N, ep, c.rows), bufs: direct, grid: [Math.ceil(N / TILE.BN), Math.ceil(M / (16 * c.rows))], tag, label });
    return false;
  }
  const t = c.tile;
  const grid = [Math.ceil(N / BLOCK.BN), Math.ceil(M / t.BM), t.split];
  const tileKey = `mmb${t.BM}x${t.TM}s${t.split}${m.ln === null ? '' : `ln${m.ln}`}`;
  if (t.split === 1) {
    rec.dispatch(steps, { kind: `${tileKey}_${shape}`, code: () => matmulBlockedWgsl(K, N, ep, t, m.ln), bufs: direct, grid, tag, label });
    return false;
  }
  const part = m.part(t.split * M * N);
  rec.dispatch(steps, { kind: `${tileKey}_${K}_${N}`, code: () => matmulBlockedWgsl(K, N, ep, t, m.ln), bufs: [m.meta, m.a, m.w, part], grid, tag, label });
  const norm = m.normOut;
  if (norm !== null && ep === 'residual' && N <= REDUCE_NORM_MAX_N) {
    rec.dispatch(steps, { kind: `splitln${t.split}_${N}_${norm.eps}`, code: () => splitReduceNormWgsl(N, t.split, norm.eps), bufs: [m.meta, part, m.b, m.o, ...m.extra, norm.h], grid: [M], tag: `${tag}r`, label });
    return true;
  }
  rec.dispatch(steps, { kind: `split${t.split}_${N}_${ep}`, code: () => splitReduceWgsl(N, ep, t.split), bufs: [m.meta, part, m.b, m.o, ...m.extra], grid: [Math.ceil((M * N) / 4 / 256)], tag: `${tag}r`, label });
  return false;
}

/** Short text of a choice (profile rows). */
export function describeMatmul(c: MatmulChoice): string {
  if (c.kind !== 'blocked') return `${c.kind} (${c.rows} rows${c.kind === 'tiled' ? '/thread' : '/workgroup'})`;
  const t = c.tile;
  return `blocked ${t.BM}x64 tile, ${t.TM}x4 per thread${t.split > 1 ? `, split-K ${t.split}` : ''}`;
}
