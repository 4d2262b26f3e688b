import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArrayKvBacking, loadModel, randomWeights } from '@baton/model';
import { ADAMW_DEFAULTS } from './adamw.js';
import { formatProgress, type ProgressReport } from './progress-bar.js';
import { initTrainBackend } from './train-backend.js';
import { TrainDivergedError } from './errors.js';
import { loadTrainCheckpoint } from './train-checkpoint.js';
import { Trainer, type TrainerOptions } from './trainer.js';
import { tinyConfig, tinyCorpus } from './testing/tiny-corpus.js';

let dir: string;
beforeAll(async () => {
  await initTrainBackend('cpu');
  dir = mkdtempSync(join(tmpdir(), 'baton-train-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function options(over: Partial<TrainerOptions> = {}): TrainerOptions {
  return {
    corpus: tinyCorpus(), config: tinyConfig(), steps: 6, batch: 4, context: 16,
    schedule: { peak: 1e-2, min: 1e-3, warmup: 2 }, adamw: ADAMW_DEFAULTS, evalEvery: 3, evalBatches: 1,
    seed: 7, out: null, checkpointEvery: 0, dtype: 'F32', resume: null, maxSeconds: null, ...over,
  };
}

async function run(o: TrainerOptions): Promise<{ losses: number[]; evalLoss: number }> {
  const t = new Trainer(o);
  try {
    const r = await t.run();
    return { losses: r.history.map((h) => h.loss), evalLoss: r.evalLoss };
  } finally {
    t.dispose();
  }
}

describe('Trainer', () => {
  it('lowers the training and held-out loss on a tiny corpus in a few steps, and frees its tensors', async () => {
    const before = tf.memory().numTensors;
    const reports: ProgressReport[] = [];
    const t = new Trainer(options({ steps: 8, reportEvery: 3, onProgress: (p) => reports.push(p) }));
    const first = await t.evalLoss();
    const r = await t.run();
    t.dispose();
    expect(reports.map((p) => p.step)).toEqual([3, 6, 8]);
    expect(reports.every((p) => p.tokensPerSecond > 0 && p.totalSteps === 8 && p.evalLoss !== null)).toBe(true);
    expect(formatProgress(reports[2])).toMatch(/^step 8\/8 \[=+>\] loss \d\.\d{3} eval \d\.\d{3} lr 1\.\de-3 [\d,]+ tok\/s ETA 0s$/);
    expect(tf.memory().numTensors).toBe(before);
    expect(r.history).toHaveLength(8);
    expect(r.history[0].loss).toBeGreaterThan(Math.log(257) - 0.3);
    expect(r.history.at(-1)!.loss).toBeLessThan(r.history[0].loss - 0.5);
    expect(r.evalLoss).toBeLessThan(first - 0.3);
  });

  it('gives the same loss curve for the same seed, another for another seed', async () => {
    const a = await run(options());
    const b = await run(options());
    const c = await run(options({ seed: 8 }));
    expect(b.losses).toEqual(a.losses);
    expect(c.losses).not.toEqual(a.losses);
  });

  it('saves a checkpoint that loadModel reads and that gives the logits the model had in training', async () => {
    const out = join(dir, 'ckpt');
    const t = new Trainer(options({ out }));
    await t.run();
    const ids = [84, 104, 101, 32, 104, 111, 117, 115, 101];
    const trained = tf.tidy(() => t.model.forward(tf.tensor2d([ids], [1, ids.length], 'int32')));
    const want = (await trained.data()) as Float32Array;
    trained.dispose();
    t.dispose();
    const gpt = await loadModel(out);
    const seq = gpt.attach(new ArrayKvBacking({ nLayer: 1, nEmbd: 16, capacity: ids.length }));
    const got = gpt.prefill(seq, ids, { logits: 'all' });
    seq.release();
    gpt.dispose();
    expect(gpt.config.eosTokenId).toBe(256);
    expect(Math.max(...got.map((v, i) => Math.abs(v - want[i])))).toBeLessThan(1e-4);
  });

  it('resumed from a checkpoint, continues the same loss curve', async () => {
    const straight = await run(options());
    const out = join(dir, 'stretch');
    const first = await run(options({ out, stretchSteps: 3 }));
    expect(first.losses).toEqual(straight.losses.slice(0, 3));
    const saved = loadTrainCheckpoint(out);
    expect(saved.state?.step).toBe(3);
    expect(saved.optimizer).not.toBeNull();
    const resumed = await run(options({ resume: saved, out }));
    expect(resumed.losses).toEqual(straight.losses);
  });

  it('with gradient accumulation, trains the same rows to the same curve, within rounding, and frees its tensors', async () => {
    const before = tf.memory().numTensors;
    const whole = await run(options());
    const split = await run(options({ accumulate: 2 }));
    expect(tf.memory().numTensors).toBe(before);
    expect(split.losses).toHaveLength(whole.losses.length);
    for (const [i, l] of split.losses.entries()) expect(Math.abs(l - whole.losses[i])).toBeLessThan(1e-4);
    expect(Math.abs(split.evalLoss - whole.evalLoss)).toBeLessThan(1e-4);
    expect(() => new Trainer(options({ accumulate: 3 }))).toThrow(/--accumulate: 3 must be a positive integer that divides --batch 4/);
  });

  it('resumed from a checkpoint without optimiser state, starts a new run from its weights', async () => {
    const out = join(dir, 'weights-only');
    await run(options({ out, stretchSteps: 3 }));
    rmSync(join(out, 'optimizer.safetensors'));
    const saved = loadTrainCheckpoint(out);
    expect(saved.state?.step).toBe(3);
    const t = new Trainer(options({ resume: saved, seed: 9 }));
    expect(t.continues).toBe(false);
    expect(t.step).toBe(0);
    t.dispose();
    const fresh = await run(options({ resume: { ...saved, state: null }, seed: 9 }));
    const again = await run(options({ resume: saved, seed: 9 }));
    expect(again.losses).toEqual(fresh.losses);
  });

  it('stops with TrainDivergedError at the first step whose loss is not finite', async () => {
    const config = tinyConfig();
    const weights = randomWeights(config, 3);
    weights.get('wte.weight')!.data.fill(Number.NaN);
    const t = new Trainer(options({ resume: { config, weights, optimizer: null, state: null } }));
    try {
      const err = await t.run().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TrainDivergedError);
      expect((err as TrainDivergedError).step).toBe(1);
      expect((err as TrainDivergedError).message).toMatch(/step 1: the training loss is NaN/);
    } finally {
      t.dispose();
    }
  });
});
