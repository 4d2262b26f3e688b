/**
 * ReferenceForward: the GPT-2 forward pass on tfjs ops, read top to bottom with the checkpoint's
 * names and nothing folded:
 *   x = wte[token] + wpe[position]
 *   for each block h.{i}:  x += attn.c_proj(attention(attn.c_attn(ln_1(x))))
 *                          x += mlp.c_proj(activation(mlp.c_fc(ln_2(x))))
 *   logits = ln_f(x) · wteᵀ   (the head is tied to wte unless the checkpoint has lm_head.weight)
 * Attention is causal over the sequence's K/V, read back from its KvBacking (the system of record)
 * after the new rows are written there. This is the model's definition: the wasm-kernel path
 * (wasm-forward.ts) and the WebGPU pipeline (gpu/) are optimisations of it and are tested
 * against it; it runs itself on the cpu and tensorflow backends (and on wasm for shapes the
 * kernels do not take). Shapes: n rows in a call, T rows of one segment, P positions cached
 * before it, C = nEmbd, H heads, hd = C / H, V vocab.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GptConfig } from './config.js';
import type { ForwardHost, ForwardPass, LogitRows, Segment } from './forward-pass.js';
import { activate, layerNorm, linear } from './layers.js';
import type { ModelSequence } from './model-sequence.js';
import { LM_HEAD, type GptWeights } from './weights.js';

/** The reference forward pass of one model (its parameters as tfjs tensors by checkpoint name). */
export class ReferenceForward implements ForwardPass {
  readonly maxRows = Number.POSITIVE_INFINITY;
  readonly usesArena = false;
  private readonly params = new Map<string, tf.Tensor>();
  private readonly headDim: number;

  constructor(private readonly config: GptConfig, weights: GptWeights, private readonly host: ForwardHost) {
    for (const [name, t] of weights) this.params.set(name, tf.tensor(t.data, t.shape));
    this.headDim = config.nEmbd / config.nHead;
  }

  forward(segments: readonly Segment[], logits: LogitRows, onLayerDone?: (layer: number) => void): Float32Array | null {
    const { nLayer, nEmbd: C, activation } = this.config;
    const out = tf.tidy((): tf.Tensor2D | undefined => {
      const tokens = segments.flatMap((s) => [...s.tokens]);
      const positions = segments.flatMap((s) => s.tokens.map((_, t) => s.seq.length + t));
      // Embeddings: x [n, C]
      let x = tf.add(tf.gather(this.w('wte.weight'), tokens), tf.gather(this.w('wpe.weight'), positions)) as tf.Tensor2D;
      for (let i = 0; i < nLayer; i++) {
        const h = `h.${i}`;
        // Attention: q, k, v [n, C] each from attn.c_attn [n, 3C]
        const qkv = linear(this.ln(x, `${h}.ln_1`), this.w(`${h}.attn.c_attn.weight`), this.w(`${h}.attn.c_attn.bias`));
        const [q, k, v] = tf.split(qkv, 3, 1) as tf.Tensor2D[];
        const kRows = k.dataSync() as Float32Array;
        const vRows = v.dataSync() as Float32Array;
        let row = 0;
        const ys = segments.map(({ seq, tokens: segTokens }) => {
          const T = segTokens.length;
          this.host.loadLayer(seq, i);
          this.host.storeKv(seq, i, seq.length, kRows.subarray(row * C, (row + T) * C), vRows.subarray(row * C, (row + T) * C));
          const y = this.attention(tf.slice(q, [row, 0], [T, C]), seq, i, T); // [T, C]
          row += T;
          return y;
        });
        onLayerDone?.(i);
        const y = ys.length === 1 ? ys[0] : tf.concat(ys, 0); // [n, C]
        x = tf.add(x, linear(y, this.w(`${h}.attn.c_proj.weight`), this.w(`${h}.attn.c_proj.bias`)));
        // MLP: [n, C] -> [n, nInner] -> [n, C]
        const fc = linear(this.ln(x, `${h}.ln_2`), this.w(`${h}.mlp.c_fc.weight`), this.w(`${h}.mlp.c_fc.bias`));
        x = tf.add(x, linear(activate(fc, activation), this.w(`${h}.mlp.c_proj.weight`), this.w(`${h}.mlp.c_proj.bias`)));
      }
      if (logits === 'none') return undefined;
      if (logits === 'last') {
        let end = 0;
        x = tf.gather(x, segments.map((s) => (end += s.tokens.length) - 1)); // [segments, C]
      }
      // Tied head: ln_f(x) · wteᵀ [rows, V]
      const head = this.params.has(LM_HEAD) ? this.w(LM_HEAD) : this.w('wte.weight');
      return tf.matMul(this.ln(x, 'ln_f'), head, false, true) as tf.Tensor2D;
    });
    for (const s of segments) s.seq.len += s.tokens.length;
    if (out === undefined) return null;
    const data = out.dataSync() as Float32Array;
    out.dispose();
    return data;
  }

  dispose(): void {
    tf.dispose([...this.params.values()]);
    this.params.clear();
  }

  /**
   * Causal attention of T new queries q [T, C] of `seq` over its P + T cached positions (the new
   * rows already stored), heads split: [T, C] -> [H, T, hd]. Key j is visible to query t when
   * j <= P + t.
   */
  private attention(q: tf.Tensor2D, seq: ModelSequence, layer: number, T: number): tf.Tensor2D {
    const { nHead: H, nEmbd: C } = this.config;
    const hd = this.headDim;
    const P = seq.length;
    const n = P + T;
    const cached = (kind: 'k' | 'v'): tf.Tensor2D => {
      const rows = new Float32Array(n * C);
      seq.backing.read(layer, kind, 0, n, rows);
      return tf.tensor2d(rows, [n, C]);
    };
    const heads = (t: tf.Tensor2D, len: number): tf.Tensor3D => tf.transpose(tf.reshape(t, [len, H, hd]), [1, 0, 2]); // [len, C] -> [H, len, hd]
    const scores = tf.mul(tf.matMul(heads(q, T), heads(cached('k'), n), false, true), 1 / Math.sqrt(hd)); // [H, T, n]
    const mask = tf.tensor2d(Float32Array.from({ length: T * n }, (_, i) => (i % n <= P + Math.floor(i / n) ? 0 : -Infinity)), [T, n]);
    const probs = tf.softmax(tf.add(scores, mask)); // [H, T, n]
    const y = tf.matMul(probs, heads(cached('v'), n)); // [H, T, hd]
    return tf.reshape(tf.transpose(y, [1, 0, 2]), [T, C]); // [T, H, hd] -> [T, C]
  }

  /** LayerNorm with the checkpoint's `${prefix}.weight` (gamma) and `.bias` (beta). */
  private ln(x: tf.Tensor2D, prefix: string): tf.Tensor2D {
    return layerNorm(x, this.w(`${prefix}.weight`), this.w(`${prefix}.bias`), this.config.layerNormEpsilon);
  }

  private w<R extends tf.Rank>(name: string): tf.Tensor<R> {
    return this.params.get(name) as tf.Tensor<R>;
  }
}
