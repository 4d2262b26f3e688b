import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { explicitMatMul } from './mat-mul.js';
import { initTrainBackend } from './train-backend.js';

beforeAll(async () => {
  await initTrainBackend('cpu');
});

async function maxDiff(a: tf.Tensor, b: tf.Tensor): Promise<number> {
  const d = tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))));
  const v = (await d.data())[0];
  d.dispose();
  return v;
}

describe('explicitMatMul', () => {
  for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]] as const) {
    for (const rank of [2, 4] as const) {
      it(`gives tf.matMul's value and gradients (rank ${rank}, transposeA ${ta}, transposeB ${tb})`, async () => {
        const before = tf.memory().numTensors;
        const lead = rank === 4 ? [2, 3] : [];
        const a = tf.randomNormal([...lead, ...(ta ? [5, 4] : [4, 5])], 0, 1, 'float32', 1);
        const b = tf.randomNormal([...lead, ...(tb ? [6, 5] : [5, 6])], 0, 1, 'float32', 2);
        // NOTE: a weighted sum as the loss, so that every output element gets a different gradient.
        const w = tf.randomNormal([...lead, 4, 6], 0, 1, 'float32', 3);
        type Product = (x: tf.Tensor2D, y: tf.Tensor2D, p: boolean, q: boolean) => tf.Tensor;
        const loss = (f: Product) => (x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(f(x as tf.Tensor2D, y as tf.Tensor2D, ta, tb), w));
        const reference: Product = (x, y, p, q) => tf.matMul(x, y, p, q);
        const want = tf.grads(loss(reference))([a, b]);
        const got = tf.grads(loss((x, y, p, q) => explicitMatMul(x, y, p, q)))([a, b]);
        const [v0, v1] = [tf.tidy(() => reference(a as tf.Tensor2D, b as tf.Tensor2D, ta, tb)), tf.tidy(() => explicitMatMul(a as tf.Tensor2D, b as tf.Tensor2D, ta, tb))];
        expect(await maxDiff(v0, v1)).toBeLessThan(1e-5);
        expect(await maxDiff(want[0], got[0])).toBeLessThan(1e-5);
        expect(await maxDiff(want[1], got[1])).toBeLessThan(1e-5);
        for (const t of [a, b, w, v0, v1, ...want, ...got]) t.dispose();
        expect(tf.memory().numTensors).toBe(before);
      });
    }
  }
});
