/**
 * TrainModel: a GPT-2's parameters as tfjs variables under their Hugging Face names, and a
 * differentiable forward pass over a batch [B, T] of token ids (tfjs ops only, so tf.variableGrads
 * can differentiate it). It computes what @baton/model's inference pass computes (pre-LayerNorm
 * blocks, causal softmax attention, gelu_new MLP, LM head tied to `wte` unless `lm_head.weight`
 * exists) without its inference-only folding and KV cache.
 * Invariants: `variables` holds exactly the tensors of GptWeights (same names and shapes);
 * `toWeights()` reads them back as float32 arrays; every intermediate is disposed (callers wrap
 * forward/loss in tf.tidy or variableGrads).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GptConfig, GptWeights } from '@baton/model';
import { trainMatMul } from './mat-mul.js';

const LM_HEAD = 'lm_head.weight';
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
/** NOTE: a large finite bias instead of -Infinity: exp underflows to exactly 0, and 0 * -Inf never makes a NaN gradient. */
const MASKED = -1e9;

/** A model being trained. */
export class TrainModel {
  /** Parameters by Hugging Face name (without the `transformer.` prefix). */
  readonly variables = new Map<string, tf.Variable>();
  readonly #masks = new Map<number, tf.Tensor2D>();

  constructor(readonly config: GptConfig, weights: GptWeights) {
    for (const [name, t] of weights) this.variables.set(name, tf.tidy(() => tf.variable(tf.tensor(t.data, t.shape, 'float32'), true)));
  }

  /** Number of trainable parameters. */
  get parameterCount(): number {
    let n = 0;
    for (const v of this.variables.values()) n += v.size;
    return n;
  }

  private v(name: string): tf.Variable {
    const t = this.variables.get(name);
    if (t === undefined) throw new Error(`TrainModel: no parameter ${name}`);
    return t;
  }

  private mask(T: number): tf.Tensor2D {
    let m = this.#masks.get(T);
    if (m === undefined) {
      const data = new Float32Array(T * T);
      for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) data[i * T + j] = MASKED;
      // NOTE: kept: the mask is cached across steps, and the first call happens inside a tidy scope.
      m = tf.keep(tf.tensor2d(data, [T, T]));
      this.#masks.set(T, m);
    }
    return m;
  }

  private layerNorm(x: tf.Tensor2D, prefix: string): tf.Tensor2D {
    const xc = tf.sub(x, tf.mean(x, -1, true));
    const n = tf.mul(xc, tf.rsqrt(tf.add(tf.mean(tf.square(xc), -1, true), this.config.layerNormEpsilon)));
    return tf.add(tf.mul(n, this.v(`${prefix}.weight`)), this.v(`${prefix}.bias`));
  }

  private dense(x: tf.Tensor2D, prefix: string): tf.Tensor2D {
    return tf.add(trainMatMul(x, this.v(`${prefix}.weight`) as tf.Tensor2D), this.v(`${prefix}.bias`));
  }

  private activate(x: tf.Tensor2D): tf.Tensor2D {
    const act = this.config.activation;
    if (act === 'gelu_new' || act === 'gelu_pytorch_tanh' || act === 'gelu_fast') {
      // 0.5·x·(1 + tanh(z)) == x·sigmoid(2z), z = sqrt(2/pi)·(x + 0.044715·x³)
      const twoZ = tf.mul(x, tf.add(tf.mul(tf.square(x), 2 * SQRT_2_OVER_PI * 0.044715), 2 * SQRT_2_OVER_PI));
      return tf.mul(x, tf.sigmoid(twoZ));
    }
    if (act === 'relu') return tf.relu(x);
    if (act === 'gelu') return tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1));
    if (act === 'silu' || act === 'swish') return tf.mul(x, tf.sigmoid(x));
    if (act === 'quick_gelu') return tf.mul(x, tf.sigmoid(tf.mul(x, 1.702)));
    if (act === 'tanh') return tf.tanh(x);
    if (act === 'sigmoid') return tf.sigmoid(x);
    return x;
  }

  /** Multi-head causal self-attention of x [B*T, C] (already normalised). */
  private attention(h: tf.Tensor2D, layer: string, B: number, T: number): tf.Tensor2D {
    const { nEmbd: C, nHead: H } = this.config;
    const D = C / H;
    const qkv = this.dense(h, `${layer}.attn.c_attn`);
    const [q, k, v] = tf.split(qkv, 3, 1).map((t) => tf.transpose(tf.reshape(t, [B, T, H, D]), [0, 2, 1, 3]) as tf.Tensor4D);
    // NOTE: 1/sqrt(D) scales q [B, H, T, D] rather than the scores [B, H, T, T] (T/D times fewer elements).
    const scores = tf.add(trainMatMul(tf.mul(q, 1 / Math.sqrt(D)) as tf.Tensor4D, k, false, true), this.mask(T));
    const y = trainMatMul(tf.softmax(scores, -1) as tf.Tensor4D, v);
    const merged = tf.reshape(tf.transpose(y, [0, 2, 1, 3]), [B * T, C]) as tf.Tensor2D;
    return this.dense(merged, `${layer}.attn.c_proj`);
  }

  /**
   * Logits [B*T, V] of every position of `ids` [B, T] (int32). Row b sits at positions
   * offsets[b] .. offsets[b] + T - 1 (int32 [B]; default 0, as in inference).
   */
  forward(ids: tf.Tensor2D, offsets?: tf.Tensor1D): tf.Tensor2D {
    const [B, T] = ids.shape;
    const C = this.config.nEmbd;
    // NOTE: the lookup is a one-hot matmul: its gradient is a matmul too, where gather's
    // (UnsortedSegmentSum) is slow on tfjs cpu and scatters on the GPU.
    const onehot = tf.oneHot(tf.reshape(ids, [B * T]), this.config.vocabSize);
    const tok = tf.reshape(trainMatMul(onehot as tf.Tensor2D, this.v('wte.weight') as tf.Tensor2D), [B, T, C]);
    const wpe = this.v('wpe.weight');
    const pos = offsets === undefined
      ? tf.slice(wpe, [0, 0], [T, C])
      : tf.reshape(trainMatMul(tf.oneHot(tf.reshape(tf.add(tf.reshape(offsets, [B, 1]), tf.range(0, T, 1, 'int32')), [B * T]), this.config.nPositions) as tf.Tensor2D, wpe as tf.Tensor2D), [B, T, C]);
    let x = tf.reshape(tf.add(tok, pos), [B * T, C]) as tf.Tensor2D;
    for (let i = 0; i < this.config.nLayer; i++) {
      const p = `h.${i}`;
      x = tf.add(x, this.attention(this.layerNorm(x, `${p}.ln_1`), p, B, T));
      x = tf.add(x, this.dense(this.activate(this.dense(this.layerNorm(x, `${p}.ln_2`), `${p}.mlp.c_fc`)), `${p}.mlp.c_proj`));
    }
    const f = this.layerNorm(x, 'ln_f');
    const head = this.variables.get(LM_HEAD) ?? this.v('wte.weight');
    return trainMatMul(f, head as tf.Tensor2D, false, true);
  }

  /** Mean cross-entropy (nats per token) of predicting `targets` [B, T] from `ids` [B, T] (at `offsets`, see forward). */
  loss(ids: tf.Tensor2D, targets: tf.Tensor2D, offsets?: tf.Tensor1D): tf.Scalar {
    const logits = this.forward(ids, offsets);
    const onehot = tf.oneHot(tf.reshape(targets, [-1]), this.config.vocabSize);
    // NOTE: tfjs's fused loss: its gradient is softmax(logits) - onehot in one step, not the chain rule through logSoftmax.
    return tf.losses.softmaxCrossEntropy(onehot, logits, undefined, 0, tf.Reduction.MEAN) as tf.Scalar;
  }

  /** The parameters as float32 arrays (a GptWeights for saveCheckpoint / loadModel). */
  async toWeights(): Promise<GptWeights> {
    const out: GptWeights = new Map();
    for (const [name, v] of this.variables) out.set(name, { shape: [...v.shape], data: (await v.data()) as Float32Array });
    return out;
  }

  /** Replaces every parameter's value (same names and shapes). */
  assign(weights: GptWeights): void {
    for (const [name, t] of weights) {
      const v = this.v(name);
      tf.tidy(() => v.assign(tf.tensor(t.data, v.shape, 'float32')));
    }
  }

  /** Frees every variable and cached mask. */
  dispose(): void {
    for (const v of this.variables.values()) v.dispose();
    for (const m of this.#masks.values()) m.dispose();
    this.variables.clear();
    this.#masks.clear();
  }
}
