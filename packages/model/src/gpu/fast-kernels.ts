/**
 * WGSL sources of the hand-built forward pipeline (fast-forward.ts), generated per model shape
 * (constants baked in; the row count M and per-row data travel in the `info` buffer, so one
 * pipeline serves every batch size). Layouts: activations row-major [M, width]; weights in Conv1D
 * layout [K, N]; KV pool rows as in forward-ops.ts (a page holds GPU_PAGE K rows then GPU_PAGE V
 * rows). info (i32): [M, 0, 0, 0, then per row: token, position, pool row of its K, page-table row].
 * Invariants: every kernel clamps its reads to valid rows and guards its writes; control flow
 * around barriers is uniform.
 */
import { GPU_PAGE } from './forward-ops.js';

/** Shape constants of one model. */
export interface KernelShape {
  C: number;
  nHead: number;
  V: number;
  /** Scores kept in workgroup memory (nPositions rounded up to a page). */
  maxLen: number;
  scale: number;
}

/** What a matmul adds after the bias. */
export type Epilogue = 'none' | 'gelu' | 'residual';

const f = (x: number): string => (Number.isInteger(x) ? `${x}.0` : `${x}`);

const META = '@group(0) @binding(0) var<storage, read> info: array<i32>;';

/** x[r] = wte[token] + wpe[position]; one thread per element. */
export function embedWgsl(C: number): string {
  return `${META}
@group(0) @binding(1) var<storage, read> wte: array<f32>;
@group(0) @binding(2) var<storage, read> wpe: array<f32>;
@group(0) @binding(3) var<storage, read_write> x: array<f32>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let i = i32(g.x);
  if (i >= info[0] * ${C}) { return; }
  let r = i / ${C};
  let c = i % ${C};
  x[i] = wte[info[4 + r * 4] * ${C} + c] + wpe[info[5 + r * 4] * ${C} + c];
}`;
}

/** (x - mean) / sqrt(var + eps) per row; one workgroup of 64 per row. */
export function normalizeWgsl(C: number, eps: number): string {
  return `${META}
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
var<workgroup> red: array<f32, 64>;
fn rowSum(v: f32, lid: i32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = 32; s > 0; s = s / 2) {
    if (lid < s) { red[lid] = red[lid] + red[lid + s]; }
    workgroupBarrier();
  }
  let t = red[0];
  workgroupBarrier();
  return t;
}
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let row = i32(wg.x);
  let lid = i32(li);
  let base = row * ${C};
  var s = 0.0;
  for (var c = lid; c < ${C}; c = c + 64) { s = s + x[base + c]; }
  let mean = rowSum(s, lid) / ${f(C)};
  var q = 0.0;
  for (var c = lid; c < ${C}; c = c + 64) { let d = x[base + c] - mean; q = q + d * d; }
  let inv = inverseSqrt(rowSum(q, lid) / ${f(C)} + ${f(eps)});
  if (row < info[0]) {
    for (var c = lid; c < ${C}; c = c + 64) { y[base + c] = (x[base + c] - mean) * inv; }
  }
}`;
}

function matmulBindings(ep: Epilogue): string {
  return `${META}
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> W: array<f32>;
@group(0) @binding(3) var<storage, read> B: array<f32>;
@group(0) @binding(4) var<storage, read_write> O: array<f32>;
${ep === 'residual' ? '@group(0) @binding(5) var<storage, read> R: array<f32>;' : ''}`;
}

function epilogue(ep: Epilogue, N: number): string {
  const gelu = `v = v / (1.0 + exp(-${f(2 * Math.sqrt(2 / Math.PI))} * (v + 0.044715 * v * v * v)));`;
  return `fn store(row: i32, col: i32, acc: f32) {
  var v = acc + B[col];
  ${ep === 'gelu' ? gelu : ''}
  ${ep === 'residual' ? `v = v + R[row * ${N} + col];` : ''}
  O[row * ${N} + col] = v;
}`;
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
 */
export function matmulSmallWgsl(K: number, N: number, ep: Epilogue, RB: number): string {
  const { TN, KG, U } = SMALL;
  const CH = Math.min(RB, SMALL.CHUNK);
  const rows = Array.from({ length: RB }, (_, r) => r);
  const us = Array.from({ length: U }, (_, u) => u);
  const step = KG * U;
  const main = Math.floor(K / step) * step;
  const chunks = Array.from({ length: RB / CH }, (_, c) => c);
  return `${matmulBindings(ep)}
var<workgroup> red: array<f32, ${KG * CH * TN}>;
${epilogue(ep, N)}
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
  for (var k = kg; k < ${main}; k = k + ${step}) {
${us.map((u) => `    let w${u} = W[(k + ${u * KG}) * ${N} + col];`).join('\n')}
${rows.map((r) => `    a${r} = a${r} + ${us.map((u) => `A[ar${r} + k + ${u * KG}] * w${u}`).join(' + ')};`).join('\n')}
  }
  for (var k = ${main} + kg; k < ${K}; k = k + ${KG}) {
    let w = W[k * ${N} + col];
${rows.map((r) => `    a${r} = a${r} + A[ar${r} + k] * w;`).join('\n')}
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

/** Tile of the large-M matmul: 16 x RT rows by 64 columns per workgroup of 256, K steps of 16. */
export const TILE = { BN: 64, BK: 16 } as const;

/**
 * O = epilogue(A W + B) for many rows (prefill): shared-memory tiles of (16 * RT) x 64 outputs,
 * each thread RT rows x 4 columns (vec4 of W). RT = 4 or 2: half-height tiles double the
 * workgroups where a 512-row prefill would not fill the GPU.
 */
export function matmulTiledWgsl(K: number, N: number, ep: Epilogue, RT: number): string {
  const { BN, BK } = TILE;
  const BM = 16 * RT;
  const rs = Array.from({ length: RT }, (_, i) => i);
  const aLoads = (BM * BK) / 256;
  return `${matmulBindings(ep)}
var<workgroup> As: array<f32, ${BK * BM}>;
var<workgroup> Ws: array<vec4<f32>, ${(BK * BN) / 4}>;
${epilogue(ep, N)}
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

/** Copies each row's K and V (columns C.. and 2C.. of qkv) into the pool and into kvOut [2, M, C]. */
export function appendWgsl(C: number): string {
  return `${META}
@group(0) @binding(1) var<storage, read> qkv: array<f32>;
@group(0) @binding(2) var<storage, read_write> pool: array<f32>;
@group(0) @binding(3) var<storage, read_write> kvOut: array<f32>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let i = i32(g.x);
  if (i >= info[0] * ${C}) { return; }
  let r = i / ${C};
  let c = i % ${C};
  let d = info[6 + r * 4];
  let k = qkv[r * ${3 * C} + ${C} + c];
  let v = qkv[r * ${3 * C} + ${2 * C} + c];
  pool[d * ${C} + c] = k;
  pool[(d + ${GPU_PAGE}) * ${C} + c] = v;
  kvOut[i] = k;
  kvOut[info[0] * ${C} + i] = v;
}`;
}

/** Threads per attention workgroup. */
const AW = 256;

/**
 * Causal attention over the paged pool: one workgroup of 256 per (head, row). Each key's pool row
 * is looked up once (cached in workgroup memory), scores use vec4 loads, max and sum by reduction,
 * then P·V by 256 / hd groups of hd lanes (each group a stride of keys) and a reduction over the
 * groups. Row r attends to positions [0, position] of its page-table row. maxLen <= 1024.
 */
export function attentionWgsl(s: KernelShape, maxPages: number): string {
  const hd = s.C / s.nHead;
  const groups = AW / hd;
  const q4 = hd / 4;
  return `${META}
@group(0) @binding(1) var<storage, read> qkv: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> pool: array<f32>;
@group(0) @binding(3) var<storage, read> pages: array<i32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(5) var<storage, read> pool4: array<vec4<f32>>;
var<workgroup> scores: array<f32, ${s.maxLen}>;
var<workgroup> krow: array<i32, ${s.maxLen}>;
var<workgroup> red: array<f32, ${AW}>;
var<workgroup> qs: array<vec4<f32>, ${q4}>;
fn wgReduce(v: f32, lid: i32, isMax: bool) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var k = ${AW / 2}; k > 0; k = k / 2) {
    if (lid < k) {
      if (isMax) { red[lid] = max(red[lid], red[lid + k]); } else { red[lid] = red[lid] + red[lid + k]; }
    }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}
@compute @workgroup_size(${AW})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let h = i32(wg.x);
  let row = i32(wg.y);
  let lid = i32(li);
  let tableRow = info[7 + row * 4];
  let len = info[5 + row * 4] + 1;
  if (lid < ${q4}) { qs[lid] = qkv[row * ${(3 * s.C) / 4} + h * ${q4} + lid] * ${f(s.scale)}; }
  workgroupBarrier();
  var mx = -3.0e38;
  for (var t = lid; t < len; t = t + ${AW}) {
    let kr = pages[tableRow * ${maxPages} + t / ${GPU_PAGE}] * ${2 * GPU_PAGE} + t % ${GPU_PAGE};
    krow[t] = kr;
    let base = (kr * ${s.C} + h * ${hd}) / 4;
    var acc = vec4<f32>(0.0);
    for (var d = 0; d < ${q4}; d = d + 1) { acc = acc + qs[d] * pool4[base + d]; }
    let sc = acc.x + acc.y + acc.z + acc.w;
    scores[t] = sc;
    mx = max(mx, sc);
  }
  let m = wgReduce(mx, lid, true);
  var sum = 0.0;
  for (var t = lid; t < len; t = t + ${AW}) { let e = exp(scores[t] - m); scores[t] = e; sum = sum + e; }
  let inv = 1.0 / wgReduce(sum, lid, false);
  let g = lid / ${hd};
  let d = lid % ${hd};
  var acc = 0.0;
  for (var t = g; t < len; t = t + ${groups}) {
    acc = acc + scores[t] * pool[(krow[t] + ${GPU_PAGE}) * ${s.C} + h * ${hd} + d];
  }
  red[lid] = acc;
  workgroupBarrier();
  if (g == 0) {
    var total = 0.0;
    for (var j = 0; j < ${groups}; j = j + 1) { total = total + red[j * ${hd} + d]; }
    y[row * ${s.C} + h * ${hd} + d] = total * inv;
  }
}`;
}

/** Index of each row's largest logit (lowest on ties); one workgroup of 64 per row. */
export function argmaxWgsl(V: number): string {
  return `${META}
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> ids: array<i32>;
var<workgroup> bv: array<f32, 64>;
var<workgroup> bi: array<i32, 64>;
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let row = i32(wg.x);
  let lid = i32(li);
  var best = -3.4e38;
  var idx = ${V};
  for (var c = lid; c < ${V}; c = c + 64) {
    let v = x[row * ${V} + c];
    if (v > best) { best = v; idx = c; }
  }
  bv[lid] = best;
  bi[lid] = idx;
  workgroupBarrier();
  for (var s = 32; s > 0; s = s / 2) {
    if (lid < s) {
      let ov = bv[lid + s];
      let oi = bi[lid + s];
      if (ov > bv[lid] || (ov == bv[lid] && oi < bi[lid])) { bv[lid] = ov; bi[lid] = oi; }
    }
    workgroupBarrier();
  }
  if (lid == 0 && row < info[0]) { ids[row] = bi[0]; }
}`;
}
