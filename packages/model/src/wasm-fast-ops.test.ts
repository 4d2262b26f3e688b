import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from './backend.js';
import { createRng } from './rng.js';
import { maxAbsDiff } from './testing/fixtures.js';
import { wasmFastOps, type WasmFastOps } from './wasm-fast-ops.js';

function randomTensor(rows: number, cols: number, seed: number): tf.Tensor2D {
  const rng = createRng(seed);
  return tf.tensor2d(Float32Array.from({ length: rows * cols }, () => rng.next() * 8 - 4 + (seed % 3)), [rows, cols]);
}

describe('fused wasm row kernels against the tfjs generic ops', () => {
  let fast: WasmFastOps;
  beforeAll(async () => {
    await initBackend('wasm');
    const ops = wasmFastOps();
    if (ops === null) throw new Error('tfjs wasm backend did not expose its memory');
    fast = ops;
  });

  // Widths that are and are not multiples of the SIMD width (scalar tails).
  for (const [rows, cols] of [[5, 37], [3, 256], [1, 3], [32, 1024]]) {
    it(`normalize and gelu_new on [${rows}, ${cols}]`, () => {
      const before = tf.memory().numTensors;
      tf.tidy(() => {
        const x = randomTensor(rows, cols, rows + cols);
        const { mean, variance } = tf.moments(x, -1, true);
        const norm = tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, 1e-5)));
        expect(maxAbsDiff(fast.normalize(x, 1e-5).dataSync(), norm.dataSync())).toBeLessThan(1e-5);
        const tanhForm = tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), Math.sqrt(2 / Math.PI))), 1));
        expect(maxAbsDiff(fast.geluNew(x).dataSync(), tanhForm.dataSync())).toBeLessThan(1e-5);
      });
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  it('is not offered on other backends', async () => {
    await initBackend('cpu');
    expect(wasmFastOps()).toBeNull();
    await initBackend('wasm');
  });
});
