/**
 * Folded weights: the parameters the fast paths (wasm-forward.ts, the GPU host's gpu-forward.ts)
 * run, prepared from GptWeights (which stay untouched for saveCheckpoint and the reference pass).
 * Each LayerNorm's gamma and beta are folded into the dense layer that consumes it:
 * dense(norm(x) * g + b, W, c) == dense(norm(x), diag(g) W, b W + c), so a LayerNorm costs only
 * its normalisation (one pass fewer over the activations, fewer ops per layer, which matters most
 * for small decode batches). The tied head becomes a dense layer [C, V] with a bias, ln_f folded.
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

/** One block's folded dense layers as arrays (Conv1D layout [in, out]). */
export interface FoldedBlock {
  attnW: Float32Array; attnB: Float32Array; projW: Float32Array; projB: Float32Array;
  fcW: Float32Array; fcB: Float32Array; mlpW: Float32Array; mlpB: Float32Array;
}

/** Every parameter with LayerNorm affine folded in, as plain arrays (for a GPU host thread). */
export interface FoldedWeights {
  blocks: FoldedBlock[];
  headW: Float32Array;
  headB: Float32Array;
  wte: Float32Array;
  wpe: Float32Array;
}

/** Folds `weights` (validated GptWeights) into plain arrays. */
export function foldWeights(config: GptConfig, weights: GptWeights): FoldedWeights {
  const data = (name: string): Float32Array => (weights.get(name) as { data: Float32Array }).data;
  const { nEmbd: C, nInner, vocabSize: V } = config;
  const blocks = Array.from({ length: config.nLayer }, (_, i): FoldedBlock => {
    const p = `h.${i}.`;
    const attn = fold(data(`${p}ln_1.weight`), data(`${p}ln_1.bias`), data(`${p}attn.c_attn.weight`), data(`${p}attn.c_attn.bias`), 3 * C);
    const fc = fold(data(`${p}ln_2.weight`), data(`${p}ln_2.bias`), data(`${p}mlp.c_fc.weight`), data(`${p}mlp.c_fc.bias`), nInner);
    return {
      attnW: attn.w, attnB: attn.b, fcW: fc.w, fcB: fc.b,
      projW: data(`${p}attn.c_proj.weight`), projB: data(`${p}attn.c_proj.bias`),
      mlpW: data(`${p}mlp.c_proj.weight`), mlpB: data(`${p}mlp.c_proj.bias`),
    };
  });
  // The head is tied to wte [V, C] unless the checkpoint has lm_head.weight (same shape).
  const headT = transpose(data(weights.has(LM_HEAD) ? LM_HEAD : 'wte.weight'), V, C); // [C, V]
  const head = fold(data('ln_f.weight'), data('ln_f.bias'), headT, null, V);
  return { blocks, headW: head.w, headB: head.b, wte: data('wte.weight'), wpe: data('wpe.weight') };
}

/** Builds the tensors of folded weights on the active backend. */
export function tensorsFromFolded(config: GptConfig, f: FoldedWeights): ModelTensors {
  const { nEmbd: C, nInner, vocabSize: V } = config;
  const blocks = f.blocks.map((b): BlockTensors => ({
    attnW: tf.tensor2d(b.attnW, [C, 3 * C]), attnB: tf.tensor1d(b.attnB),
    projW: tf.tensor2d(b.projW, [C, C]), projB: tf.tensor1d(b.projB),
    fcW: tf.tensor2d(b.fcW, [C, nInner]), fcB: tf.tensor1d(b.fcB),
    mlpW: tf.tensor2d(b.mlpW, [nInner, C]), mlpB: tf.tensor1d(b.mlpB),
  }));
  return { blocks, headW: tf.tensor2d(f.headW, [C, V]), headB: tf.tensor1d(f.headB), wte: f.wte, wpe: f.wpe };
}

/** Frees every tensor of `t`. */
export function disposeModelTensors(t: ModelTensors): void {
  for (const b of t.blocks) tf.dispose(Object.values(b));
  tf.dispose([t.headW, t.headB]);
}
