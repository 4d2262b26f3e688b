/**
 * WGSL sources of the hand-built forward pipeline (fast-forward.ts), generated per model shape:
 * the small ops (embed, normalize, argmax) and the matmul epilogues shared by matmul-kernels.ts
 * and blocked-matmul.ts (attention: attention-kernels.ts). Constants are baked in; the row count M
 * and per-row data travel in the `info` buffer, so one pipeline serves every batch size. Layouts: activations row-major [M, width]; weights in Conv1D
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

/** A WGSL float literal. */
export const f = (x: number): string => (Number.isInteger(x) ? `${x}.0` : `${x}`);

/**
 * What a matmul does after the bias: nothing, gelu_new, add a residual R [M, N], or (qkv, N = 3C)
 * also write each row's K and V columns to its KV pool row and to kvOut [2, M, C] (the KV append).
 */
export type Epilogue = 'none' | 'gelu' | 'residual' | 'kv';

const GELU_K = 2 * Math.sqrt(2 / Math.PI);

/**
 * A matmul's epilogue: the declarations of its extra bindings (from binding `first`: R, or pool
 * and kvOut) and `store(row, col, acc)` (scalar) or `store4(row, c4, acc)` (vec4 columns), which
 * expect bindings B (bias) and O (output) of the same element type and `info`.
 */
export function epilogueWgsl(ep: Epilogue, N: number, vec: boolean, first: number): string {
  const arr = vec ? 'array<vec4<f32>>' : 'array<f32>';
  const w = vec ? N / 4 : N;
  const c = w / 3;
  const decl = ep === 'residual' ? `@group(0) @binding(${first}) var<storage, read> R: ${arr};`
    : ep === 'kv' ? `@group(0) @binding(${first}) var<storage, read_write> pool: ${arr};
@group(0) @binding(${first + 1}) var<storage, read_write> kvOut: ${arr};` : '';
  const kv = `if (col >= ${c}) {
    let d = info[6 + row * 4];
    if (col < ${2 * c}) {
      pool[d * ${c} + col - ${c}] = v;
      kvOut[row * ${c} + col - ${c}] = v;
    } else {
      pool[(d + ${GPU_PAGE}) * ${c} + col - ${2 * c}] = v;
      kvOut[(info[0] + row) * ${c} + col - ${2 * c}] = v;
    }
  }`;
  return `${decl}
fn ${vec ? 'store4' : 'store'}(row: i32, col: i32, acc: ${vec ? 'vec4<f32>' : 'f32'}) {
  var v = acc + B[col];
  ${ep === 'gelu' ? `v = v / (1.0 + exp(-${f(GELU_K)} * (v + 0.044715 * v * v * v)));` : ''}
  ${ep === 'residual' ? `v = v + R[row * ${w} + col];` : ''}
  O[row * ${w} + col] = v;
  ${ep === 'kv' ? kv : ''}
}`;
}


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
