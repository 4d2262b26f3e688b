import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { AdamW, type AdamWOptions } from './adamw.js';
import { initTrainBackend } from './train-backend.js';

beforeAll(async () => {
  await initTrainBackend('cpu');
});

const OPTS: AdamWOptions = { beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1, clipNorm: 1 };

/** AdamW as written in the paper, on plain arrays: the reference the tensor version must match. */
function reference(params: Map<string, { rank: number; data: number[] }>, grads: Map<string, number[]>[], lrs: number[]): Map<string, number[]> {
  const p = new Map([...params].map(([k, x]) => [k, [...x.data]]));
  const m = new Map([...params].map(([k, x]) => [k, x.data.map(() => 0)]));
  const v = new Map([...params].map(([k, x]) => [k, x.data.map(() => 0)]));
  grads.forEach((step, s) => {
    const norm = Math.sqrt([...step.values()].flat().reduce((a, g) => a + g * g, 0));
    const scale = Math.min(1, OPTS.clipNorm / (norm + 1e-6));
    const [c1, c2] = [1 - OPTS.beta1 ** (s + 1), 1 - OPTS.beta2 ** (s + 1)];
    for (const [k, gs] of step) {
      const [pk, mk, vk] = [p.get(k)!, m.get(k)!, v.get(k)!];
      gs.forEach((g0, i) => {
        const g = g0 * scale;
        mk[i] = OPTS.beta1 * mk[i] + (1 - OPTS.beta1) * g;
        vk[i] = OPTS.beta2 * vk[i] + (1 - OPTS.beta2) * g * g;
        const decay = params.get(k)!.rank >= 2 ? 1 - lrs[s] * OPTS.weightDecay : 1;
        pk[i] = pk[i] * decay - lrs[s] * (mk[i] / c1) / (Math.sqrt(vk[i] / c2) + OPTS.eps);
      });
    }
  });
  return p;
}

describe('AdamW', () => {
  it('matches the reference update with clipping and decay on matrices only, saves and restores its state, and frees its tensors', async () => {
    const before = tf.memory().numTensors;
    const init = new Map([['w', { rank: 2, data: [0.5, -0.25, 1, 2, -1, 0.125] }], ['b', { rank: 1, data: [0.1, -0.2, 0.3] }]]);
    const vars = new Map<string, tf.Variable>([
      ['w', tf.tidy(() => tf.variable(tf.tensor2d(init.get('w')!.data, [2, 3])))],
      ['b', tf.tidy(() => tf.variable(tf.tensor1d(init.get('b')!.data)))],
    ]);
    const steps = [
      new Map([['w', [0.3, -0.1, 0.2, 0.5, 0.05, -0.4]], ['b', [1, -2, 0.5]]]),
      new Map([['w', [0.01, 0.02, -0.03, 0.04, -0.05, 0.06]], ['b', [0.1, 0.1, -0.1]]]),
      new Map([['w', [-0.2, 0.2, -0.2, 0.2, -0.2, 0.2]], ['b', [0.05, 0, -0.05]]]),
    ];
    const lrs = [0.1, 0.05, 0.01];
    const opt = new AdamW(vars, OPTS);
    const apply = (s: number, o: AdamW) => {
      const g = new Map([...steps[s]].map(([k, x]) => [k, tf.tensor(x, vars.get(k)!.shape)]));
      o.apply(g, lrs[s]).gradNorm.dispose();
      for (const t of g.values()) t.dispose();
    };
    apply(0, opt);
    apply(1, opt);
    const saved = await opt.state();
    expect(saved.tensors.get('m.w')!.shape).toEqual([2, 3]);
    opt.dispose();
    const resumed = new AdamW(vars, OPTS);
    resumed.restore(saved.step, saved.tensors);
    apply(2, resumed);
    resumed.dispose();
    const want = reference(init, steps, lrs);
    for (const [k, x] of vars) {
      const got = await x.data();
      want.get(k)!.forEach((w, i) => expect(Math.abs(got[i] - w)).toBeLessThan(1e-6));
    }
    for (const x of vars.values()) x.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
