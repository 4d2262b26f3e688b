/**
 * Tensor building blocks of a GPT-2 block on tfjs ops: LayerNorm, Conv1D-layout linear layers
 * and the MLP activations. Stateless; call inside tf.tidy. Shapes: x [n, C].
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Activation } from './config.js';

/** LayerNorm over the last axis: (x - mean) / sqrt(var + eps) * gamma + beta. */
export function layerNorm(x: tf.Tensor2D, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps: number): tf.Tensor2D {
  const xc = tf.sub(x, tf.mean(x, -1, true));
  const normed = tf.mul(xc, tf.rsqrt(tf.add(tf.mean(tf.square(xc), -1, true), eps)));
  return tf.add(tf.mul(normed, gamma), beta);
}

/** x·W + b with W in Conv1D layout [in, out]. */
export function linear(x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D): tf.Tensor2D {
  return tf.fused.matMul({ a: x, b: w, bias: b }) as tf.Tensor2D;
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** Applies a Hugging Face activation by name. */
export function activate(x: tf.Tensor2D, activation: Activation): tf.Tensor2D {
  switch (activation) {
    case 'gelu_new':
    case 'gelu_pytorch_tanh':
    case 'gelu_fast': {
      // NOTE: 0.5·x·(1 + tanh(z)) == x·sigmoid(2z); tfjs-wasm's sigmoid is ~4x faster than its tanh.
      const x2 = tf.square(x);
      const twoZ = tf.mul(x, tf.add(tf.mul(x2, 2 * SQRT_2_OVER_PI * 0.044715), 2 * SQRT_2_OVER_PI));
      return tf.mul(x, tf.sigmoid(twoZ));
    }
    case 'gelu':
      return tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1));
    case 'quick_gelu':
      return tf.mul(x, tf.sigmoid(tf.mul(x, 1.702)));
    case 'relu':
      return tf.relu(x);
    case 'silu':
    case 'swish':
      return tf.mul(x, tf.sigmoid(x));
    case 'tanh':
      return tf.tanh(x);
    case 'sigmoid':
      return tf.sigmoid(x);
    case 'linear':
      return x;
  }
}
