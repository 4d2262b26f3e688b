/**
 * The register-blocked WGSL matmul (prefill and other many-row calls): O = epilogue(A W + B).
 * A workgroup computes a BM x 64 tile with (BM / TM) x 16 threads, each TM rows x 4 columns
 * (vec4 accumulators); per K step of 16 it stages A (transposed, so a thread reads its TM rows
 * as vec4) and W in workgroup memory, loading the NEXT step into registers while it computes the
 * current one. With `split` > 1 the K range is cut into `split` slices (grid z), each writing raw
 * partial sums to P [split, M, N]; splitReduceWgsl then sums them and applies the epilogue.
 * With `ln` (an epsilon), A is LayerNorm-normalized on the fly ((a - mean) / sqrt(var + eps) per row,
 * no affine: it is folded into W and B): the workgroup first computes its BM rows' statistics over
 * the whole K, then normalizes A as it stages it, so no normalize dispatch and no normalized copy.
 * Needs K % (16 * split) == 0 and N % 4 == 0 (vec4 rows); matmul-kernels.ts falls back otherwise.
 * Invariants: rows past M are read clamped and never written; barriers in uniform control flow.
 */
import { META, epilogueWgsl, f, type Epilogue } from './fast-kernels.js';

/** One tiling of the blocked kernel. */
export interface BlockTile {
  /** Rows per workgroup: a multiple of TM, at most 16 * TM. */
  BM: number;
  /** Rows per thread: 4 or 8. */
  TM: number;
  /** K slices (1 = the epilogue is applied in place). */
  split: number;
}

/** Columns per workgroup and K step. */
export const BLOCK = { BN: 64, BK: 16 } as const;

/** Threads per workgroup of a tiling. */
export function blockThreads(t: BlockTile): number {
  return (t.BM / t.TM) * (BLOCK.BN / 4);
}

/** Whether the blocked kernel can run this shape with this tiling. */
export function blockFits(K: number, N: number, t: BlockTile): boolean {
  const nty = t.BM / t.TM;
  return N % 4 === 0 && K % (BLOCK.BK * t.split) === 0 && t.TM % 4 === 0 && Number.isInteger(nty) && nty >= 1 && 16 % nty === 0;
}

/**
 * The blocked kernel; with t.split > 1 its binding 3 is the partials buffer P and it has no epilogue.
 * `ln`: LayerNorm epsilon when A is normalized on the fly (see the file header), else null.
 */
export function matmulBlockedWgsl(K: number, N: number, ep: Epilogue, t: BlockTile, ln: number | null = null): string {
  const { BN, BK } = BLOCK;
  const { BM, TM, split } = t;
  const T = blockThreads(t);
  const K4 = K / 4;
  const N4 = N / 4;
  const kLen = K / split;
  const aPer = (BM * BK) / 4 / T;
  const wPer = (BK * BN) / 4 / T;
  const as = Array.from({ length: aPer }, (_, i) => i);
  const ws = Array.from({ length: wPer }, (_, i) => i);
  const rs = Array.from({ length: TM }, (_, i) => i);
  const ks = Array.from({ length: BK }, (_, i) => i);
  const i4s = Array.from({ length: TM / 4 }, (_, i) => i);
  const comp = ['x', 'y', 'z', 'w'];
  const fetch = (k0: string): string => [
    ...as.map((i) => `ra${i} = A[aRow${i} + (${k0}) / 4 + aq${i}];`),
    ...ws.map((i) => `rw${i} = select(vec4<f32>(0.0), W[((${k0}) + wk${i}) * ${N4} + wc${i}], wOk${i});`),
  ].join('\n    ');
  const aVal = (i: number, c: string): string => (ln === null ? `ra${i}.${c}` : `(ra${i}.${c} - lnM${i}) * lnI${i}`);
  const stash = [
    ...as.flatMap((i) => comp.map((c, j) => `As[(aq${i} * 4 + ${j}) * ${BM / 4} + am${i} / 4][am${i} % 4] = ${aVal(i, c)};`)),
    ...ws.map((i) => `Ws[wk${i} * 16 + wn${i}] = rw${i};`),
  ].join('\n    ');
  const body = ks.map((kk) => [
    `    let b${kk} = Ws[${kk * 16} + tx];`,
    ...i4s.map((i4) => `    let a${kk}_${i4} = As[${(kk * BM) / 4} + ty * ${TM / 4} + ${i4}];`),
    ...i4s.flatMap((i4) => comp.map((c, j) => `    acc${i4 * 4 + j} = acc${i4 * 4 + j} + a${kk}_${i4}.${c} * b${kk};`)),
  ].join('\n')).join('\n');
  const out = split === 1
    ? `store4(row, c4, acc)`
    : `O[(i32(wg.z) * M + row) * ${N4} + c4] = acc`;
  const binds = split === 1
    ? `${META}
@group(0) @binding(1) var<storage, read> A: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> W: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> B: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> O: array<vec4<f32>>;
${epilogueWgsl(ep, N, true, 5)}`
    : `${META}
@group(0) @binding(1) var<storage, read> A: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> W: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> O: array<vec4<f32>>;`;
  return `${binds}
var<workgroup> As: array<vec4<f32>, ${(BK * BM) / 4}>;
var<workgroup> Ws: array<vec4<f32>, ${BK * 16}>;
${ln === null ? '' : layerNormShared(BM, T)}
@compute @workgroup_size(${T})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let M = info[0];
  let lid = i32(li);
  let tx = lid % 16;
  let ty = lid / 16;
  let c40 = i32(wg.x) * 16;
  let row0 = i32(wg.y) * ${BM};
  let kBegin = i32(wg.z) * ${kLen};
  let kEnd = kBegin + ${kLen};
${as.map((i) => `  let am${i} = (lid + ${i * T}) / 4;
  let aq${i} = (lid + ${i * T}) % 4;
  let aRow${i} = min(row0 + am${i}, M - 1) * ${K4};
  var ra${i} = vec4<f32>(0.0);`).join('\n')}
${ws.map((i) => `  let wk${i} = (lid + ${i * T}) / 16;
  let wn${i} = (lid + ${i * T}) % 16;
  let wOk${i} = c40 + wn${i} < ${N4};
  let wc${i} = min(c40 + wn${i}, ${N4 - 1});
  var rw${i} = vec4<f32>(0.0);`).join('\n')}
${rs.map((r) => `  var acc${r} = vec4<f32>(0.0);`).join('\n')}
${ln === null ? '' : layerNormPrologue({ K, T, BM, eps: ln, as })}
  ${fetch('kBegin')}
  ${stash}
  workgroupBarrier();
  for (var k0 = kBegin; k0 < kEnd; k0 = k0 + ${BK}) {
    let more = k0 + ${BK} < kEnd;
    if (more) {
    ${fetch(`k0 + ${BK}`)}
    }
${body}
    workgroupBarrier();
    if (more) {
    ${stash}
    }
    workgroupBarrier();
  }
  let c4 = c40 + tx;
${rs.map((r) => `  {
    let row = row0 + ty * ${TM} + ${r};
    let acc = acc${r};
    if (row < M && c4 < ${N4}) { ${out}; }
  }`).join('\n')}
}`;
}

/** Workgroup arrays of the LayerNorm prologue: per tile row its mean and 1 / std, and a reduction buffer. */
function layerNormShared(BM: number, T: number): string {
  return `var<workgroup> lnMean: array<f32, ${BM}>;
var<workgroup> lnInv: array<f32, ${BM}>;
var<workgroup> lnRed: array<f32, ${T}>;`;
}

/**
 * The LayerNorm prologue: T / BM threads per tile row sum its K values (vec4 loads, rows past M
 * clamped like the A loads), then its squared deviations (two passes, like normalizeWgsl); each
 * thread then keeps the mean and 1 / std of the rows its A loads stage (lnM_i, lnI_i).
 */
function layerNormPrologue(o: { K: number; T: number; BM: number; eps: number; as: number[] }): string {
  const tpr = o.T / o.BM;
  const K4 = o.K / 4;
  const reduce = (into: string, value: string): string => `  lnRed[lid] = ${value};
  workgroupBarrier();
  if (lq == 0) {
    var t = 0.0;
    for (var j = 0; j < ${tpr}; j = j + 1) { t = t + lnRed[lid + j]; }
    ${into}
  }
  workgroupBarrier();`;
  return `  let lr = lid / ${tpr};
  let lq = lid % ${tpr};
  let lBase = min(row0 + lr, M - 1) * ${K4};
  var ls = 0.0;
  for (var q = lq; q < ${K4}; q = q + ${tpr}) { let v = A[lBase + q]; ls = ls + v.x + v.y + v.z + v.w; }
${reduce(`lnMean[lr] = t / ${f(o.K)};`, 'ls')}
  let lm = vec4<f32>(lnMean[lr]);
  var lv = 0.0;
  for (var q = lq; q < ${K4}; q = q + ${tpr}) { let d = A[lBase + q] - lm; lv = lv + dot(d, d); }
${reduce(`lnInv[lr] = inverseSqrt(t / ${f(o.K)} + ${f(o.eps)});`, 'lv')}
${o.as.map((i) => `  let lnM${i} = lnMean[am${i}];\n  let lnI${i} = lnInv[am${i}];`).join('\n')}`;
}

/** Sums `split` partial buffers [split, M, N] and applies the epilogue; one thread per vec4 output. */
export function splitReduceWgsl(N: number, ep: Epilogue, split: number): string {
  const N4 = N / 4;
  return `${META}
@group(0) @binding(1) var<storage, read> P: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> B: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> O: array<vec4<f32>>;
${epilogueWgsl(ep, N, true, 4)}
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let M = info[0];
  let i = i32(g.x);
  if (i >= M * ${N4}) { return; }
  var s = P[i];
${Array.from({ length: split - 1 }, (_, z) => `  s = s + P[${z + 1} * M * ${N4} + i];`).join('\n')}
  store4(i / ${N4}, i % ${N4}, s);
}`;
}

/** Widest row splitReduceNormWgsl serves (one vec4 per thread of a 256-thread workgroup). */
export const REDUCE_NORM_MAX_N = 1024;

/**
 * The split-K reduce of a residual matmul fused with the LayerNorm that follows it: one workgroup
 * per row sums the `split` partials [split, M, N], adds bias and residual R, writes the row to O
 * and its LayerNorm (no affine, two passes over the row held in registers) to H, so the next
 * matmul reads H and needs neither a normalize dispatch nor a LayerNorm prologue.
 * Bindings: info, P, B, O, R, H. Needs N % 4 == 0 and N <= REDUCE_NORM_MAX_N.
 */
export function splitReduceNormWgsl(N: number, split: number, eps: number): string {
  const N4 = N / 4;
  return `${META}
@group(0) @binding(1) var<storage, read> P: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> B: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> O: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> R: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> H: array<vec4<f32>>;
var<workgroup> red: array<f32, 256>;
fn rowSum(v: f32, lid: i32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = 128; s > 0; s = s / 2) {
    if (lid < s) { red[lid] = red[lid] + red[lid + s]; }
    workgroupBarrier();
  }
  let t = red[0];
  workgroupBarrier();
  return t;
}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let M = info[0];
  let lid = i32(li);
  let keep = lid < ${N4};
  let i = min(i32(wg.x), M - 1) * ${N4} + min(lid, ${N4 - 1});
  var s = P[i];
${Array.from({ length: split - 1 }, (_, z) => `  s = s + P[${z + 1} * M * ${N4} + i];`).join('\n')}
  let v = s + B[i % ${N4}] + R[i];
  if (keep) { O[i] = v; }
  let mean = rowSum(select(0.0, v.x + v.y + v.z + v.w, keep), lid) / ${f(N)};
  let d = v - vec4<f32>(mean);
  let inv = inverseSqrt(rowSum(select(0.0, dot(d, d), keep), lid) / ${f(N)} + ${f(eps)});
  if (keep) { H[i] = d * inv; }
}`;
}
