/**
 * ForwardOps: the hot operations of the GPU forward pass, behind one interface so that the fused
 * WGSL programs (wgsl-ops.ts) and plain tfjs ops (here: the reference they are checked against,
 * and the fallback on a non-WebGPU host backend) are interchangeable.
 * KV pool layout (one tensor per layer): rows of nEmbd floats; a page of P positions holds P K rows
 * then P V rows, so position t of a sequence whose page table row is `pages` has its K row at
 * (pages[t / P] * 2) * P + t % P and its V row P rows later.
 * Invariants: appendKv returns the pool to use from then on (the same tensor when written in
 * place); every other op returns a fresh tensor and disposes nothing it was given.
 */
import * as tf from '@tensorflow/tfjs-core';

/** Positions per KV page. */
export const GPU_PAGE = 64;

/** Inputs of one attention call (all on the host backend). */
export interface AttentionArgs {
  /** [N, W] rows whose first nEmbd columns are the queries. */
  qkv: tf.Tensor2D;
  /** One layer's pool [rows, nEmbd]. */
  pool: tf.Tensor2D;
  /** Page tables [S, maxPages] int32. */
  pages: tf.Tensor2D;
  /** [N, 2] int32: (page table row, position) of each query; it attends to positions [0, position]. */
  info: tf.Tensor2D;
  /** Host copies of `pages` and `info` (the generic path indexes with them). */
  pagesHost: Int32Array;
  infoHost: Int32Array;
  nHead: number;
  scale: number;
}

/** Rows to append: K at column kOff and V at column vOff of each row of `rows` [N, W]. */
export interface AppendArgs {
  pool: tf.Tensor2D;
  rows: tf.Tensor2D;
  kOff: number;
  vOff: number;
  /** [N] int32: pool row of each row's K (its V goes GPU_PAGE rows later). */
  dst: tf.Tensor1D;
}

/** The forward pass's fused operations. */
export interface ForwardOps {
  readonly name: string;
  /** (x - mean) / sqrt(var + eps) over the last axis. */
  normalize(x: tf.Tensor2D, eps: number): tf.Tensor2D;
  /** gelu_new (tanh approximation). */
  geluNew(x: tf.Tensor2D): tf.Tensor2D;
  appendKv(a: AppendArgs): tf.Tensor2D;
  /** Causal attention [N, nEmbd]. */
  attention(a: AttentionArgs): tf.Tensor2D;
  /** Index of each row's largest value (lowest on ties) [N] int32. */
  argmax(x: tf.Tensor2D): tf.Tensor1D;
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** Generic tfjs implementations (slow; the reference for the WGSL programs). */
export const referenceOps: ForwardOps = {
  name: 'tfjs-generic',
  normalize(x, eps) {
    return tf.tidy(() => {
      const xc = tf.sub(x, tf.mean(x, -1, true));
      return tf.mul(xc, tf.rsqrt(tf.add(tf.mean(tf.square(xc), -1, true), eps)));
    });
  },
  geluNew(x) {
    return tf.tidy(() => {
      const inner = tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), SQRT_2_OVER_PI);
      return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
    });
  },
  appendKv({ pool, rows, kOff, vOff, dst }) {
    return tf.tidy(() => {
      const C = pool.shape[1];
      const n = rows.shape[0];
      const k = tf.slice(rows, [0, kOff], [n, C]);
      const v = tf.slice(rows, [0, vOff], [n, C]);
      const idx = tf.reshape(tf.concat([dst, tf.add(dst, GPU_PAGE)]), [2 * n, 1]);
      return tf.tensorScatterUpdate(pool, idx, tf.concat([k, v])) as tf.Tensor2D;
    });
  },
  attention({ qkv, pool, pages, pagesHost, infoHost, nHead, scale }) {
    const C = pool.shape[1];
    const hd = C / nHead;
    const width = pages.shape[1];
    const table = Array.from({ length: pages.shape[0] }, (_, r) => Array.from(pagesHost.subarray(r * width, (r + 1) * width)));
    const rows = Array.from({ length: infoHost.length / 2 }, (_, r) => [infoHost[2 * r], infoHost[2 * r + 1]]);
    return tf.tidy(() => {
      const outs = rows.map(([tableRow, pos], n) => {
        const L = pos + 1;
        const kIdx = Array.from({ length: L }, (_, t) => table[tableRow][Math.floor(t / GPU_PAGE)] * 2 * GPU_PAGE + (t % GPU_PAGE));
        const k = tf.transpose(tf.reshape(tf.gather(pool, kIdx), [L, nHead, hd]), [1, 2, 0]); // [H, hd, L]
        const v = tf.transpose(tf.reshape(tf.gather(pool, kIdx.map((i) => i + GPU_PAGE)), [L, nHead, hd]), [1, 0, 2]); // [H, L, hd]
        const q = tf.mul(tf.reshape(tf.slice(qkv, [n, 0], [1, C]), [nHead, 1, hd]), scale);
        const p = tf.softmax(tf.matMul(q, k)); // [H, 1, L]
        return tf.reshape(tf.matMul(p, v), [1, C]);
      });
      return tf.concat(outs) as tf.Tensor2D;
    });
  },
  argmax(x) {
    return tf.argMax(x, 1) as tf.Tensor1D;
  },
};
