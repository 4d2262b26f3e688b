/**
 * ModelTensors: the backend-side parameters of a Gpt, prepared for speed from GptWeights (which
 * stay untouched for saveCheckpoint). Each LayerNorm's gamma and beta are folded into the dense
 * layer that consumes it: dense(norm(x) * g + b, W, c) == dense(norm(x), diag(g) W, b W + c),
 * so a LayerNorm costs only its normalisation (fewer backend ops per layer, which matters most
 * for small decode batches where each op is mostly dispatch). The LM head becomes a dense layer
 * [C, V] with a bias for the same reason.
 * Invariant: folding is done in float64 and rounded once to float32.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GptConfig } from './config.js';
import { LM_HEAD, type GptWeights } from './weights.js';

/** One block's dense layers, LayerNorm affine parameters folded in. Conv1D layout [in, out]. */
export interface BlockTensors {
  attnW: tf.Tensor2D; attnB: tf.Tensor1D; projW: tf.Tensor2D; projB: tf.Tensor1D;
  fcW: tf.Tensor2D; fcB: tf.Tensor1D; mlpW: tf.Tensor2D; mlpB: tf.Tensor1D;
}

/** All parameters as tensors plus the embeddings as arrays (embedding lookups run in JS). */
export interface ModelTensors {
  blocks: BlockTensors[];
  /** LM head [C, V] and bias [V], ln_f folded in. */
  headW: tf.Tensor2D;
  headB: tf.Tensor1D;
  wte: Float32Array;
  wpe: Float32Array;
}

interface Dense { w: Float32Array; b: Float32Array }

/** diag(g) W and b W + c for W [n, m] (row-major), g and b [n], c [m]. */
function fold(g: Float32Array, beta: Float32Array, w: Float32Array, c: Float32Array | null, m: number): Dense {
  const n = g.length;
  const outW = new Float32Array(n * m);
  const bias = new Float64Array(m);
  if (c !== null) bias.set(c);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < m; j++) {
      const wij = w[i * m + j];
      outW[i * m + j] = g[i] * wij;
      bias[j] += beta[i] * wij;
    }
  }
  return { w: outW, b: Float32Array.from(bias) };
}

/** Transpose of a row-major [rows, cols] matrix. */
function transpose(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = a[r * cols + c];
  return out;
}

/** Builds the tensors of `weights` (validated GptWeights) on the active backend. */
export function createModelTensors(config: GptConfig, weights: GptWeights): ModelTensors {
  const data = (name: string): Float32Array => (weights.get(name) as { data: Float32Array }).data;
  const { nEmbd: C, nInner, vocabSize: V } = config;
  const dense = (d: Dense, n: number, m: number): [tf.Tensor2D, tf.Tensor1D] => [tf.tensor2d(d.w, [n, m]), tf.tensor1d(d.b)];
  const blocks = Array.from({ length: config.nLayer }, (_, i): BlockTensors => {
    const p = `h.${i}.`;
    const [attnW, attnB] = dense(fold(data(`${p}ln_1.weight`), data(`${p}ln_1.bias`), data(`${p}attn.c_attn.weight`), data(`${p}attn.c_attn.bias`), 3 * C), C, 3 * C);
    const [fcW, fcB] = dense(fold(data(`${p}ln_2.weight`), data(`${p}ln_2.bias`), data(`${p}mlp.c_fc.weight`), data(`${p}mlp.c_fc.bias`), nInner), C, nInner);
    return {
      attnW, attnB, fcW, fcB,
      projW: tf.tensor2d(data(`${p}attn.c_proj.weight`), [C, C]), projB: tf.tensor1d(data(`${p}attn.c_proj.bias`)),
      mlpW: tf.tensor2d(data(`${p}mlp.c_proj.weight`), [nInner, C]), mlpB: tf.tensor1d(data(`${p}mlp.c_proj.bias`)),
    };
  });
  // The head is tied to wte [V, C] unless the checkpoint has lm_head.weight (same shape).
  const headT = transpose(data(weights.has(LM_HEAD) ? LM_HEAD : 'wte.weight'), V, C); // [C, V]
  const [headW, headB] = dense(fold(data('ln_f.weight'), data('ln_f.bias'), headT, null, V), C, V);
  return { blocks, headW, headB, wte: data('wte.weight'), wpe: data('wpe.weight') };
}

/** Frees every tensor of `t`. */
export function disposeModelTensors(t: ModelTensors): void {
  for (const b of t.blocks) tf.dispose(Object.values(b));
  tf.dispose([t.headW, t.headB]);
}
