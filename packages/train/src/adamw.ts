/**
 * AdamW (decoupled weight decay, Loshchilov & Hutter) with global-norm gradient clipping, over
 * tfjs variables by name. Weight decay applies to matrices (rank >= 2: dense weights and
 * embeddings), never to biases or LayerNorm parameters.
 * Invariants: the moment estimates `m` and `v` are each one flat float32 vector holding every
 * parameter's moments in parameter order (saved and restored per parameter, with its shape);
 * `step` counts applied updates (bias correction uses it), so saving and restoring {step, m, v}
 * resumes exactly.
 * NOTE: the update runs on the gradients concatenated into one vector: a few ops over all
 * parameters instead of a dozen per parameter (about 1,100 fewer kernels per step for a 6-layer
 * GPT-2), then one slice and one subtraction per parameter.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { NamedTensor } from '@baton/model';

/** Hyper-parameters of AdamW. */
export interface AdamWOptions {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** Largest global gradient norm; larger gradients are scaled down to it. */
  clipNorm: number;
}

/** Default hyper-parameters (nanoGPT's). */
export const ADAMW_DEFAULTS: AdamWOptions = { beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1, clipNorm: 1 };

/** One step's outcome: the gradient norm before clipping (a scalar tensor the caller disposes). */
export interface StepResult {
  gradNorm: tf.Scalar;
}

/** The optimiser and its state. */
export class AdamW {
  readonly #names: string[];
  readonly #sizes: number[];
  readonly #m: tf.Variable;
  readonly #v: tf.Variable;
  #step = 0;

  constructor(private readonly params: Map<string, tf.Variable>, readonly options: AdamWOptions = ADAMW_DEFAULTS) {
    this.#names = [...params.keys()];
    this.#sizes = this.#names.map((n) => params.get(n)!.size);
    const total = this.#sizes.reduce((a, b) => a + b, 0);
    this.#m = tf.tidy(() => tf.variable(tf.zeros([total]), false));
    this.#v = tf.tidy(() => tf.variable(tf.zeros([total]), false));
  }

  /** Updates applied so far. */
  get step(): number {
    return this.#step;
  }

  /** Applies gradients (by parameter name) with learning rate `lr`; disposes nothing it was given. */
  apply(grads: Map<string, tf.Tensor>, lr: number): StepResult {
    const { beta1, beta2, eps, weightDecay, clipNorm } = this.options;
    this.#step += 1;
    const c1 = 1 - beta1 ** this.#step;
    const c2 = 1 - beta2 ** this.#step;
    const flat = tf.tidy(() => tf.concat(this.#names.map((name) => {
      const g = grads.get(name);
      if (g === undefined) throw new Error(`AdamW: no gradient for ${name}`);
      return tf.reshape(g, [-1]);
    })));
    const gradNorm = tf.tidy(() => tf.sqrt(tf.sum(tf.square(flat))) as tf.Scalar);
    tf.tidy(() => {
      const scale = tf.minimum(1, tf.div(clipNorm, tf.add(gradNorm, 1e-6)));
      const g = tf.mul(flat, scale);
      const m = this.#m;
      const v = this.#v;
      m.assign(tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1)));
      v.assign(tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2)));
      const update = tf.mul(tf.div(tf.div(m, c1), tf.add(tf.sqrt(tf.div(v, c2)), eps)), lr);
      const parts = tf.split(update, this.#sizes);
      // NOTE: one scalar tensor for every matrix (a number operand would be uploaded once per op).
      const decay = tf.scalar(1 - lr * weightDecay);
      for (const [i, name] of this.#names.entries()) {
        const p = this.params.get(name)!;
        const decayed = p.rank >= 2 && weightDecay > 0 ? tf.mul(p, decay) : p;
        p.assign(tf.sub(decayed, tf.reshape(parts[i], p.shape)));
      }
    });
    flat.dispose();
    return { gradNorm };
  }

  /** The state as named float32 arrays (`m.<name>`, `v.<name>`, each with its parameter's shape) and the step count. */
  async state(): Promise<{ step: number; tensors: Map<string, NamedTensor> }> {
    const tensors = new Map<string, NamedTensor>();
    for (const [kind, flat] of [['m', this.#m], ['v', this.#v]] as const) {
      const data = (await flat.data()) as Float32Array;
      let at = 0;
      for (const [i, name] of this.#names.entries()) {
        const n = this.#sizes[i];
        tensors.set(`${kind}.${name}`, { shape: [...this.params.get(name)!.shape], data: data.slice(at, at + n) });
        at += n;
      }
    }
    return { step: this.#step, tensors };
  }

  /** Restores a state from {@link state}; throws naming the first missing or mis-shaped tensor. */
  restore(step: number, tensors: Map<string, NamedTensor>): void {
    for (const [kind, flat] of [['m', this.#m], ['v', this.#v]] as const) {
      const data = new Float32Array(flat.size);
      let at = 0;
      for (const [i, name] of this.#names.entries()) {
        const saved = tensors.get(`${kind}.${name}`);
        if (saved === undefined || saved.data.length !== this.#sizes[i]) throw new Error(`optimizer state: ${kind}.${name} is missing or has the wrong size`);
        data.set(saved.data, at);
        at += this.#sizes[i];
      }
      tf.tidy(() => flat.assign(tf.tensor1d(data, 'float32')));
    }
    this.#step = step;
  }

  /** Frees the moment estimates. */
  dispose(): void {
    this.#m.dispose();
    this.#v.dispose();
  }
}
