/**
 * WGSL causal attention over the paged KV pool (layout in forward-ops.ts) for the hand-built
 * pipeline: the row kernel (one workgroup per (head, row); decode and any row mix) and the block
 * kernel for prefill (flash style: a block of consecutive query rows of ONE sequence shares each
 * K/V tile through workgroup memory, with an online softmax). Queries are columns [0, C) of qkv.
 * Invariants: a row attends to positions [0, its position] of its page-table row; barriers sit in
 * uniform control flow; rows past M are read clamped and never written.
 */
import { GPU_PAGE } from './forward-ops.js';
import { META, f, type KernelShape } from './fast-kernels.js';

/** Threads per attention workgroup. */
const AW = 256;

/**
 * Causal attention over the paged pool: one workgroup of 256 per (head, row). Each key's pool row
 * is looked up once (cached in workgroup memory), scores use vec4 loads, max and sum by reduction,
 * then P·V by 256 / (hd / 4) groups of hd / 4 lanes, each lane a vec4 of V columns (each group a
 * stride of keys: NOTE: 4x the groups of one lane per column, so each walks a quarter of the keys,
 * whose dependent row-lookup and load latency bounds a decode step), and a reduction over the groups. Row r attends to positions [0, position] of its page-table row. maxLen <= 1024.
 */
export function attentionWgsl(s: KernelShape, maxPages: number): string {
  const hd = s.C / s.nHead;
  const q4 = hd / 4;
  const groups = AW / q4;
  return `${META}
@group(0) @binding(1) var<storage, read> qkv: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> pool4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> pages: array<i32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
var<workgroup> scores: array<f32, ${s.maxLen}>;
var<workgroup> krow: array<i32, ${s.maxLen}>;
var<workgroup> red: array<f32, ${AW}>;
var<workgroup> red4: array<vec4<f32>, ${AW}>;
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
  let g = lid / ${q4};
  let d4 = lid % ${q4};
  var acc = vec4<f32>(0.0);
  for (var t = g; t < len; t = t + ${groups}) {
    acc = acc + scores[t] * pool4[((krow[t] + ${GPU_PAGE}) * ${s.C} + h * ${hd}) / 4 + d4];
  }
  red4[lid] = acc;
  workgroupBarrier();
  if (g == 0) {
    var total = vec4<f32>(0.0);
    for (var j = 0; j < ${groups}; j = j + 1) { total = total + red4[j * ${q4} + d4]; }
    let o = row * ${s.C} + h * ${hd} + d4 * 4;
    let v = total * inv;
    y[o] = v.x;
    y[o + 1] = v.y;
    y[o + 2] = v.z;
    y[o + 3] = v.w;
  }
}`;
}

/** Keys per K/V tile of the block kernel (half a page, so a tile never straddles pages). */
const BKV = 32;
/** Query rows per workgroup of the block kernel. */
const BQ = 16;

/** Geometry of the block kernel for head size hd: threads per query row, rows and threads per workgroup. */
export function flashGeometry(hd: number): { tpr: number; bq: number; threads: number } {
  const tpr = hd / 4;
  return { tpr, bq: BQ, threads: BQ * tpr };
}

/** Workgroup memory (bytes) of the block kernel for head size hd. */
export function flashSharedBytes(hd: number): number {
  const { tpr, bq, threads } = flashGeometry(hd);
  return (BKV * (tpr + 1) + BKV * tpr) * 16 + (bq * BKV + threads) * 4;
}

/**
 * Prefill attention, flash style: workgroup (head, block of 16 consecutive rows); rows must be ONE
 * sequence (the page-table row of the block's first row) at increasing positions. Each thread
 * owns one query row's 4 head dims (tpr = hd / 4 threads a row, q in registers): per K/V tile of
 * 32 keys (staged in workgroup memory, K rows padded against bank conflicts; the next tile is
 * loaded into registers meanwhile) it scores 32 / tpr keys, the row's max and sum are combined
 * through workgroup memory (online softmax), and it accumulates P·V for its 4 dims. Tiles past
 * the block's last position are never visited.
 */
export function flashAttentionWgsl(s: KernelShape, maxPages: number): string {
  const hd = s.C / s.nHead;
  const { tpr, bq, threads: T } = flashGeometry(hd);
  const kpt = BKV / tpr;
  const C4 = s.C / 4;
  const ds = Array.from({ length: tpr }, (_, d) => d);
  const cs = Array.from({ length: kpt }, (_, c) => c);
  const ls = Array.from({ length: (BKV * tpr) / T }, (_, i) => i);
  const ks = tpr + 1;
  const fetch = (k0: string): string => `{
      let base = pages[tableRow * ${maxPages} + (${k0}) / ${GPU_PAGE}] * ${2 * GPU_PAGE} + (${k0}) % ${GPU_PAGE};
${ls.map((i) => `      let ok${i} = (${k0}) + lk${i} < kEnd;
      let src${i} = (base + lk${i}) * ${C4} + h * ${tpr} + ld${i};
      rk${i} = select(vec4<f32>(0.0), pool[src${i}], ok${i});
      rv${i} = select(vec4<f32>(0.0), pool[src${i} + ${GPU_PAGE * C4}], ok${i});`).join('\n')}
    }`;
  return `${META}
@group(0) @binding(1) var<storage, read> qkv: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> pool: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> pages: array<i32>;
@group(0) @binding(4) var<storage, read_write> y: array<vec4<f32>>;
var<workgroup> Ks: array<vec4<f32>, ${BKV * ks}>;
var<workgroup> Vs: array<vec4<f32>, ${BKV * tpr}>;
var<workgroup> Ps: array<f32, ${bq * BKV}>;
var<workgroup> red: array<f32, ${T}>;
@compute @workgroup_size(${T})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let M = info[0];
  let h = i32(wg.x);
  let lid = i32(li);
  let qi = lid / ${tpr};
  let lane = lid % ${tpr};
  let first = i32(wg.y) * ${bq};
  let rowRaw = first + qi;
  let row = min(rowRaw, M - 1);
  let pos = info[5 + row * 4];
  let tableRow = info[7 + first * 4];
  let kEnd = info[5 + min(first + ${bq - 1}, M - 1) * 4] + 1;
${ds.map((d) => `  let q${d} = qkv[row * ${3 * C4} + h * ${tpr} + ${d}] * ${f(s.scale)};`).join('\n')}
${ls.map((i) => `  let lk${i} = (lid + ${i * T}) / ${tpr};
  let ld${i} = (lid + ${i * T}) % ${tpr};
  var rk${i} = vec4<f32>(0.0);
  var rv${i} = vec4<f32>(0.0);`).join('\n')}
  var m = -3.0e38;
  var l = 0.0;
  var o = vec4<f32>(0.0);
  ${fetch('0')}
  for (var k0 = 0; k0 < kEnd; k0 = k0 + ${BKV}) {
${ls.map((i) => `    Ks[lk${i} * ${ks} + ld${i}] = rk${i};
    Vs[lid + ${i * T}] = rv${i};`).join('\n')}
    workgroupBarrier();
    if (k0 + ${BKV} < kEnd) ${fetch(`k0 + ${BKV}`)}
    var mb = -3.0e38;
${cs.map((c) => `    let j${c} = lane + ${tpr * c};
    let v${c} = k0 + j${c} <= pos;
    var s${c} = -3.0e38;
    if (v${c}) {
      let kb = j${c} * ${ks};
      let acc = ${ds.map((d) => `q${d} * Ks[kb + ${d}]`).join(' + ')};
      s${c} = acc.x + acc.y + acc.z + acc.w;
    }
    mb = max(mb, s${c});`).join('\n')}
    red[lid] = mb;
    workgroupBarrier();
    var mx = m;
${ds.map((t) => `    mx = max(mx, red[qi * ${tpr} + ${t}]);`).join('\n')}
    let alpha = exp(m - mx);
    var ls = 0.0;
${cs.map((c) => `    let p${c} = select(0.0, exp(s${c} - mx), v${c});
    Ps[qi * ${BKV} + j${c}] = p${c};
    ls = ls + p${c};`).join('\n')}
    workgroupBarrier();
    red[lid] = ls;
    workgroupBarrier();
    var lb = 0.0;
${ds.map((t) => `    lb = lb + red[qi * ${tpr} + ${t}];`).join('\n')}
    l = l * alpha + lb;
    o = o * alpha;
    for (var j = 0; j < ${BKV}; j = j + 1) { o = o + Ps[qi * ${BKV} + j] * Vs[j * ${tpr} + lane]; }
    m = mx;
    workgroupBarrier();
  }
  if (rowRaw < M) { y[row * ${C4} + h * ${tpr} + lane] = o / l; }
}`;
}
