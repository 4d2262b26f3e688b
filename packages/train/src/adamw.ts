/**
 * AdamW (decoupled weight decay, Loshchilov & Hutter) with global-norm gradient clipping, over
 * tfjs variables by name. Weight decay applies to matrices (rank >= 2: dense weights and
 * embeddings), never to biases or LayerNorm parameters.
 * Invariants: the moment estimates `m` and `v` have each parameter's shape; `step` counts applied
 * updates (bias correction uses it), so saving and restoring {step, m, v} resumes exactly.
 * NOTE: the update runs per parameter. One update over all parameters concatenated into a vector
 * launches about 1,100 fewer kernels a step, but splitting that vector back into 76 parameters
 * took 5 s on tfjs-wasm (SplitV and Slice over 11 M floats), far more than the kernels it saves.
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
  readonly #m = new Map<string, tf.Variable>();
  readonly #v = new Map<string, tf.Variable>();
  #step = 0;

  constructor(private readonly params: Map<string, tf.Variable>, readonly options: AdamWOptions = ADAMW_DEFAULTS) {
    for (const [name, p] of params) {
      this.#m.set(name, tf.tidy(() => tf.variable(tf.zerosLike(p), false)));
      this.#v.set(name, tf.tidy(() => tf.variable(tf.zerosLike(p), false)));
    }
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
    // NOTE: a chain of adds, not tf.addN: WebGPU's AddN binds every input in one shader and fails
    // past the device's storage-buffer limit (8 by default).
    const gradNorm = tf.tidy(() => tf.sqrt([...grads.values()].map((g) => tf.sum(tf.square(g))).reduce((a, b) => tf.add(a, b))) as tf.Scalar);
    tf.tidy(() => {
      const scale = tf.minimum(1, tf.div(clipNorm, tf.add(gradNorm, 1e-6)));
      // NOTE: one scalar tensor for every matrix (a number operand would be uploaded once per op).
      const decay = tf.scalar(1 - lr * weightDecay);
      for (const [name, p] of this.params) {
        const g0 = grads.get(name);
        if (g0 === undefined) throw new Error(`AdamW: no gradient for ${name}`);
        const g = tf.mul(g0, scale);
        const m = this.#m.get(name)!;
        const v = this.#v.get(name)!;
        m.assign(tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1)));
        v.assign(tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2)));
        const update = tf.div(tf.div(m, c1), tf.add(tf.sqrt(tf.div(v, c2)), eps));
        const decayed = p.rank >= 2 && weightDecay > 0 ? tf.mul(p, decay) : p;
        p.assign(tf.sub(decayed, tf.mul(update, lr)));
      }
    });
    return { gradNorm };
  }

  /** The state as named float32 arrays (`m.<name>`, `v.<name>`) and the step count. */
  async state(): Promise<{ step: number; tensors: Map<string, NamedTensor> }> {
    const tensors = new Map<string, NamedTensor>();
    for (const [kind, map] of [['m', this.#m], ['v', this.#v]] as const) {
      for (const [name, t] of map) tensors.set(`${kind}.${name}`, { shape: [...t.shape], data: (await t.data()) as Float32Array });
    }
    return { step: this.#step, tensors };
  }

  /** Restores a state from {@link state}; throws naming the first missing or mis-shaped tensor. */
  restore(step: number, tensors: Map<string, NamedTensor>): void {
    for (const [kind, map] of [['m', this.#m], ['v', this.#v]] as const) {
      for (const [name, t] of map) {
        const saved = tensors.get(`${kind}.${name}`);
        if (saved === undefined || saved.data.length !== t.size) throw new Error(`optimizer state: ${kind}.${name} is missing or has the wrong size`);
        tf.tidy(() => t.assign(tf.tensor(saved.data, t.shape, 'float32')));
      }
    }
    this.#step = step;
  }

  /** Frees the moment estimates. */
  dispose(): void {
    for (const t of [...this.#m.values(), ...this.#v.values()]) t.dispose();
    this.#m.clear();
    this.#v.clear();
  }
}
