/**
 * WGSL sources of the hand-built forward pipeline (fast-forward.ts), generated per model shape
 * (matmuls in matmul-kernels.ts, attention in attention-kernels.ts; the small ops here)
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

/** A WGSL float literal. */
export const f = (x: number): string => (Number.isInteger(x) ? `${x}.0` : `${x}`);

/** The `info` binding every kernel has. */
export const META = '@group(0) @binding(0) var<storage, read> info: array<i32>;';

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
