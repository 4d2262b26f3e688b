import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArrayKvBacking, loadModel, randomWeights, type Gpt } from '@baton/model';
import { initTrainBackend } from './train-backend.js';
import { TrainModel } from './train-model.js';
import { tinyConfig } from './testing/tiny-corpus.js';

const config = { ...tinyConfig(), nLayer: 2 };
let model: TrainModel;
let gpt: Gpt;

beforeAll(async () => {
  await initTrainBackend('cpu');
  // NOTE: larger-than-default weights so that the logits differ by position and token.
  const weights = randomWeights({ ...config, initializerRange: 0.3 }, 5);
  model = new TrainModel(config, weights);
  gpt = await loadModel({ config, weights });
});
afterAll(() => {
  model.dispose();
  gpt.dispose();
});

function inferenceLogits(ids: number[]): Float32Array {
  const seq = gpt.attach(new ArrayKvBacking({ nLayer: config.nLayer, nEmbd: config.nEmbd, capacity: ids.length }));
  try {
    return gpt.prefill(seq, ids, { logits: 'all' });
  } finally {
    seq.release();
  }
}

describe('TrainModel', () => {
  it("gives @baton/model's inference logits for the same weights", async () => {
    const ids = [72, 101, 108, 108, 111, 32, 256, 119, 111, 114, 108, 100];
    const got = tf.tidy(() => model.forward(tf.tensor2d([ids, [...ids].reverse()], [2, ids.length], 'int32')));
    const all = (await got.data()) as Float32Array;
    got.dispose();
    const V = config.vocabSize;
    for (const [row, seq] of [ids, [...ids].reverse()].entries()) {
      const want = inferenceLogits(seq);
      const have = all.subarray(row * seq.length * V, (row + 1) * seq.length * V);
      let worst = 0;
      for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(want[i] - have[i]));
      expect(worst).toBeLessThan(1e-4);
    }
  });

  it('at a position offset k, computes what a model with position embeddings shifted by k computes', async () => {
    const ids = [10, 20, 30, 40];
    const C = config.nEmbd;
    const weights = await model.toWeights();
    const wpe = weights.get('wpe.weight')!;
    const data = new Float32Array(wpe.data.length);
    data.set(wpe.data.subarray(3 * C));
    const shiftedModel = new TrainModel(config, new Map([...weights, ['wpe.weight', { shape: wpe.shape, data }]]));
    const a = tf.tidy(() => model.forward(tf.tensor2d([ids], [1, 4], 'int32'), tf.tensor1d([3], 'int32')));
    const b = tf.tidy(() => shiftedModel.forward(tf.tensor2d([ids], [1, 4], 'int32')));
    const [x, y] = [await a.data(), await b.data()];
    expect(Math.max(...x.map((v, i) => Math.abs(v - y[i])))).toBeLessThan(1e-5);
    for (const t of [a, b]) t.dispose();
    shiftedModel.dispose();
  });

  it('gives as loss the mean cross-entropy of its logits', async () => {
    const ids = [[5, 6, 7], [8, 9, 256]];
    const targets = [[6, 7, 8], [9, 256, 1]];
    const logits = tf.tidy(() => model.forward(tf.tensor2d(ids, [2, 3], 'int32')));
    const loss = tf.tidy(() => model.loss(tf.tensor2d(ids, [2, 3], 'int32'), tf.tensor2d(targets, [2, 3], 'int32')));
    const [rows, got] = [(await logits.data()) as Float32Array, (await loss.data())[0]];
    const V = config.vocabSize;
    let want = 0;
    targets.flat().forEach((t, r) => {
      const row = rows.subarray(r * V, (r + 1) * V);
      const max = Math.max(...row);
      want -= row[t] - max - Math.log(row.reduce((a, x) => a + Math.exp(x - max), 0));
    });
    expect(Math.abs(got - want / 6)).toBeLessThan(1e-5);
    for (const t of [logits, loss]) t.dispose();
  });

  it('round-trips its parameters and frees every tensor', async () => {
    const before = tf.memory().numTensors;
    const m = new TrainModel(config, await model.toWeights());
    expect(m.parameterCount).toBe(model.parameterCount);
    const loss = tf.tidy(() => m.loss(tf.tensor2d([[1, 2, 3]], [1, 3], 'int32'), tf.tensor2d([[2, 3, 4]], [1, 3], 'int32')));
    expect(Number.isFinite((await loss.data())[0])).toBe(true);
    loss.dispose();
    m.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
