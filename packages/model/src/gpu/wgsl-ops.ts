/**
 * Fused WebGPU programs (custom WGSL run through tfjs-backend-webgpu's runWebGPUProgram) for the
 * dispatch-bound hot ops of the forward pass: LayerNorm normalisation, gelu_new, the in-place KV
 * append, paged causal attention over the GPU-resident KV, and a greedy argmax. Each replaces
 * several generic tfjs dispatches by one. tfjs generates the bindings: `result` (output), one
 * read-only array per variable name, and `uniforms` (shapes, then the program's own fields).
 * Invariants: shapes are stable per call kind (lengths travel in int32 inputs, not in shapes), so
 * pipelines are compiled once; kernels use only uniform control flow around barriers.
 */
import * as tf from '@tensorflow/tfjs-core';
import { GPU_PAGE, referenceOps, type AppendArgs, type AttentionArgs, type ForwardOps } from './forward-ops.js';

interface Program {
  variableNames: string[];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[]; y?: number[] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number];
  uniforms?: string;
  size?: boolean;
  getUserCode(): string;
}
type Uniform = Array<{ type: 'int32' | 'float32'; data: number[] }>;
interface WebGpuBackendLike {
  runWebGPUProgram(p: Program, inputs: tf.TensorInfo[], dtype: 'float32' | 'int32', uniforms?: Uniform, output?: tf.TensorInfo): tf.TensorInfo;
}

const WG = 64;

function run(p: Program, inputs: tf.Tensor[], dtype: 'float32' | 'int32' = 'float32', uniforms?: Uniform): tf.Tensor {
  const backend = tf.backend() as unknown as WebGpuBackendLike;
  const info = backend.runWebGPUProgram(p, inputs, dtype, uniforms);
  return tf.engine().makeTensorFromTensorInfo(info);
}

/** One workgroup per row: mean, then variance of the centred row, both by tree reduction. */
function normalizeProgram(rows: number, cols: number): Program {
  return {
    variableNames: ['x'], outputShape: [rows, cols], shaderKey: `baton_normalize_${cols}`,
    dispatchLayout: { x: [0], y: [1] }, dispatch: [rows, 1, 1], workgroupSize: [WG, 1, 1], uniforms: 'eps : f32,',
    getUserCode: () => `
      var<workgroup> red: array<f32, ${WG}>;
      fn rowSum(v: f32, lid: i32) -> f32 {
        red[lid] = v;
        workgroupBarrier();
        for (var s = ${WG / 2}; s > 0; s = s / 2) {
          if (lid < s) { red[lid] = red[lid] + red[lid + s]; }
          workgroupBarrier();
        }
        let total = red[0];
        workgroupBarrier();
        return total;
      }
      fn main() {
        let row = i32(workgroupId.x);
        let lid = i32(localId.x);
        let base = row * ${cols};
        var s = 0.0;
        for (var c = lid; c < ${cols}; c = c + ${WG}) { s = s + x[base + c]; }
        let mean = rowSum(s, lid) / ${cols}.0;
        var q = 0.0;
        for (var c = lid; c < ${cols}; c = c + ${WG}) { let d = x[base + c] - mean; q = q + d * d; }
        let inv = inverseSqrt(rowSum(q, lid) / ${cols}.0 + uniforms.eps);
        for (var c = lid; c < ${cols}; c = c + ${WG}) { result[base + c] = (x[base + c] - mean) * inv; }
      }`,
  };
}

/** gelu_new as x * sigmoid(2z): no tanh overflow for large |x|. */
function geluProgram(shape: number[]): Program {
  const size = shape.reduce((a, b) => a * b, 1);
  return {
    variableNames: ['x'], outputShape: shape, shaderKey: 'baton_gelu_new', size: true,
    dispatchLayout: { x: [0] }, dispatch: [Math.ceil(size / 256), 1, 1], workgroupSize: [256, 1, 1],
    getUserCode: () => `
      fn main(index: i32) {
        if (index < uniforms.size) {
          let v = x[index];
          let z2 = ${(2 * Math.sqrt(2 / Math.PI)).toFixed(9)} * (v + 0.044715 * v * v * v);
          result[index] = v / (1.0 + exp(-z2));
        }
      }`,
  };
}

/** Writes K/V of n rows into the pool in place (the pool is the program's output). */
function appendProgram(n: number, cols: number, poolRows: number): Program {
  return {
    variableNames: ['rows', 'dst'], outputShape: [poolRows, cols], shaderKey: `baton_kv_append_${cols}`, size: false,
    dispatchLayout: { x: [0] }, dispatch: [Math.ceil((n * cols) / 256), 1, 1], workgroupSize: [256, 1, 1],
    uniforms: 'n : i32, kOff : i32, vOff : i32,',
    getUserCode: () => `
      fn main(index: i32) {
        if (index < uniforms.n * ${cols}) {
          let r = index / ${cols};
          let c = index % ${cols};
          let w = uniforms.rowsShape.y;
          let d = dst[r];
          result[d * ${cols} + c] = rows[r * w + uniforms.kOff + c];
          result[(d + ${GPU_PAGE}) * ${cols} + c] = rows[r * w + uniforms.vOff + c];
        }
      }`,
  };
}

/**
 * One workgroup per (head, query row): scores into workgroup memory, max and sum by reduction,
 * then P·V with the workgroup split into WG / hd groups of hd lanes (each group a stride of keys).
 */
function attentionProgram(n: number, nHead: number, hd: number, maxLen: number): Program {
  const C = nHead * hd;
  const groups = WG / hd;
  return {
    variableNames: ['qkv', 'pool', 'pages', 'info'], outputShape: [n, C], shaderKey: `baton_attention_${nHead}_${hd}_${maxLen}`,
    dispatchLayout: { x: [1], y: [0] }, dispatch: [nHead, n, 1], workgroupSize: [WG, 1, 1], uniforms: 'scale : f32,',
    getUserCode: () => `
      var<workgroup> scores: array<f32, ${maxLen}>;
      var<workgroup> red: array<f32, ${WG}>;
      var<workgroup> qs: array<f32, ${hd}>;
      fn wgReduce(v: f32, lid: i32, isMax: bool) -> f32 {
        red[lid] = v;
        workgroupBarrier();
        for (var s = ${WG / 2}; s > 0; s = s / 2) {
          if (lid < s) {
            if (isMax) { red[lid] = max(red[lid], red[lid + s]); } else { red[lid] = red[lid] + red[lid + s]; }
          }
          workgroupBarrier();
        }
        let r = red[0];
        workgroupBarrier();
        return r;
      }
      fn keyRow(tableRow: i32, t: i32) -> i32 {
        let page = pages[tableRow * uniforms.pagesShape.y + t / ${GPU_PAGE}];
        return page * ${2 * GPU_PAGE} + t % ${GPU_PAGE};
      }
      fn main() {
        let h = i32(workgroupId.x);
        let row = i32(workgroupId.y);
        let lid = i32(localId.x);
        let tableRow = info[row * 2];
        let len = info[row * 2 + 1] + 1;
        let w = uniforms.qkvShape.y;
        for (var d = lid; d < ${hd}; d = d + ${WG}) { qs[d] = qkv[row * w + h * ${hd} + d] * uniforms.scale; }
        workgroupBarrier();
        var mx = -3.0e38;
        for (var t = lid; t < len; t = t + ${WG}) {
          let base = keyRow(tableRow, t) * ${C} + h * ${hd};
          var s = 0.0;
          for (var d = 0; d < ${hd}; d = d + 1) { s = s + qs[d] * pool[base + d]; }
          scores[t] = s;
          mx = max(mx, s);
        }
        let m = wgReduce(mx, lid, true);
        var sum = 0.0;
        for (var t = lid; t < len; t = t + ${WG}) { let e = exp(scores[t] - m); scores[t] = e; sum = sum + e; }
        let inv = 1.0 / wgReduce(sum, lid, false);
        workgroupBarrier();
        let g = lid / ${hd};
        let d = lid % ${hd};
        var acc = 0.0;
        for (var t = g; t < len; t = t + ${groups}) {
          acc = acc + scores[t] * pool[(keyRow(tableRow, t) + ${GPU_PAGE}) * ${C} + h * ${hd} + d];
        }
        red[lid] = acc;
        workgroupBarrier();
        if (g == 0) {
          var total = 0.0;
          for (var j = 0; j < ${groups}; j = j + 1) { total = total + red[j * ${hd} + d]; }
          result[row * ${C} + h * ${hd} + d] = total * inv;
        }
      }`,
  };
}

/** One workgroup per row: best (value, lowest index) by reduction. */
function argmaxProgram(rows: number, cols: number): Program {
  return {
    variableNames: ['x'], outputShape: [rows], shaderKey: `baton_argmax_${cols}`,
    dispatchLayout: { x: [0], y: [1] }, dispatch: [rows, 1, 1], workgroupSize: [WG, 1, 1],
    getUserCode: () => `
      var<workgroup> bv: array<f32, ${WG}>;
      var<workgroup> bi: array<i32, ${WG}>;
      fn main() {
        let row = i32(workgroupId.x);
        let lid = i32(localId.x);
        var best = -3.4e38;
        var idx = ${cols};
        // NOTE: reads the width from uniforms so the uniform binding stays in the 'auto' layout.
        let width = uniforms.xShape.y;
        for (var c = lid; c < width; c = c + ${WG}) {
          let v = x[row * width + c];
          if (v > best) { best = v; idx = c; }
        }
        bv[lid] = best;
        bi[lid] = idx;
        workgroupBarrier();
        for (var s = ${WG / 2}; s > 0; s = s / 2) {
          if (lid < s) {
            let ov = bv[lid + s];
            let oi = bi[lid + s];
            if (ov > bv[lid] || (ov == bv[lid] && oi < bi[lid])) { bv[lid] = ov; bi[lid] = oi; }
          }
          workgroupBarrier();
        }
        if (lid == 0) { result[row] = bi[0]; }
      }`,
  };
}

/** Largest sequence the attention kernel keeps in workgroup memory (16 KiB of scores). */
export const WGSL_MAX_POSITIONS = 4096;

/** Whether the fused attention supports this head size (hd must divide the workgroup of 64). */
export function wgslAttentionFits(hd: number, maxPositions: number): boolean {
  return hd <= WG && WG % hd === 0 && maxPositions <= WGSL_MAX_POSITIONS;
}

/**
 * The fused WGSL ops; attention falls back to the generic ops where the kernel does not fit.
 * `generic` names ops to take from the generic tfjs reference instead (diagnosis; the
 * BATON_GPU_GENERIC_OPS environment variable, comma-separated, sets it in the host thread).
 */
export function createWgslOps(maxPositions: number, generic: ReadonlySet<string> = new Set()): ForwardOps {
  const fused = wgslOps(maxPositions);
  const pick = <K extends keyof ForwardOps>(k: K): ForwardOps[K] => (generic.has(k) ? referenceOps[k] : fused[k]);
  return {
    name: generic.size === 0 ? fused.name : `${fused.name} (generic: ${[...generic].join(', ')})`,
    normalize: pick('normalize'), geluNew: pick('geluNew'), appendKv: pick('appendKv'), attention: pick('attention'), argmax: pick('argmax'),
  };
}

function wgslOps(maxPositions: number): ForwardOps {
  return {
    name: 'wgsl-fused',
    normalize: (x, eps) => run(normalizeProgram(x.shape[0], x.shape[1]), [x], 'float32', [{ type: 'float32', data: [eps] }]) as tf.Tensor2D,
    geluNew: (x) => run(geluProgram(x.shape), [x]) as tf.Tensor2D,
    appendKv({ pool, rows, kOff, vOff, dst }: AppendArgs) {
      const backend = tf.backend() as unknown as WebGpuBackendLike;
      const p = appendProgram(rows.shape[0], pool.shape[1], pool.shape[0]);
      // NOTE: one entry per field: tfjs packs a multi-value entry as a 16-byte-aligned vector.
      const fields: Uniform = [rows.shape[0], kOff, vOff].map((v) => ({ type: 'int32', data: [v] }));
      backend.runWebGPUProgram(p, [rows, dst], 'float32', fields, pool);
      return pool;
    },
    attention(a: AttentionArgs) {
      const C = a.pool.shape[1];
      const hd = C / a.nHead;
      if (!wgslAttentionFits(hd, maxPositions)) return referenceOps.attention(a);
      const p = attentionProgram(a.info.shape[0], a.nHead, hd, Math.ceil(maxPositions / GPU_PAGE) * GPU_PAGE);
      return run(p, [a.qkv, a.pool, a.pages, a.info], 'float32', [{ type: 'float32', data: [a.scale] }]) as tf.Tensor2D;
    },
    argmax: (x) => run(argmaxProgram(x.shape[0], x.shape[1]), [x], 'int32') as tf.Tensor1D,
  };
}
