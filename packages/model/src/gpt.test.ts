import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArrayKvBacking, argmax, initBackend, loadModel, type Gpt, type GptConfig } from './index.js';
import { maxAbsDiff, smallConfig } from './testing/fixtures.js';

function backing(m: Gpt): ArrayKvBacking {
  return new ArrayKvBacking({ nLayer: m.config.nLayer, nEmbd: m.config.nEmbd });
}

function prompt(n: number, seed: number): number[] {
  return Array.from({ length: n }, (_, i) => (i * 31 + seed * 17 + 5) % 256);
}

/** Logits of every position by recomputing the whole sequence in one prefill. */
function fullLogits(m: Gpt, tokens: number[]): Float32Array {
  const seq = m.attach(backing(m));
  const out = m.prefill(seq, tokens, { logits: 'all', chunkSize: tokens.length });
  seq.release();
  return out;
}

describe('Gpt forward (wasm)', () => {
  let model: Gpt;
  beforeAll(async () => {
    await initBackend('wasm');
    model = await loadModel({ config: smallConfig(), seed: 7 });
  });
  afterAll(() => model.dispose());
  const V = 256;

  it('incremental decoding equals recomputing the full sequence', () => {
    const tokens = prompt(20, 1);
    const full = fullLogits(model, tokens);
    const seq = model.attach(backing(model));
    const first = model.prefill(seq, tokens.slice(0, 5));
    expect(maxAbsDiff(first, full.subarray(4 * V, 5 * V))).toBeLessThan(1e-5);
    for (let i = 5; i < tokens.length; i++) {
      const row = model.decode([{ seq, token: tokens[i] }]);
      expect(maxAbsDiff(row, full.subarray(i * V, (i + 1) * V))).toBeLessThan(1e-5);
    }
    seq.release();
  });

  it('chunked prefill equals one-shot prefill (and greedy agrees)', () => {
    const tokens = prompt(70, 2);
    const oneShot = fullLogits(model, tokens);
    for (const chunkSize of [1, 7, 32]) {
      const seq = model.attach(backing(model));
      const chunked = model.prefill(seq, tokens, { chunkSize, logits: 'all' });
      seq.release();
      expect(maxAbsDiff(chunked, oneShot)).toBeLessThan(1e-5);
      expect(argmax(chunked.subarray(69 * V))).toBe(argmax(oneShot.subarray(69 * V)));
    }
  });

  it('a batched decode step equals the sequences decoded one by one (bitwise)', () => {
    const lengths = [3, 17, 9, 40, 1];
    const make = (): ReturnType<Gpt['attach']>[] => lengths.map((n, i) => {
      const s = model.attach(backing(model));
      model.prefill(s, prompt(n, i));
      return s;
    });
    const single = make();
    const alone = single.map((seq, i) => model.decode([{ seq, token: 11 + i }]));
    for (const s of single) s.release();
    const batched = make();
    const order = [3, 0, 4, 1, 2]; // a batch order different from slot order
    const rows = model.decode(order.map((i) => ({ seq: batched[i], token: 11 + i })));
    order.forEach((i, j) => expect(maxAbsDiff(rows.subarray(j * V, (j + 1) * V), alone[i])).toBe(0));
    for (const s of batched) s.release();
  });

  it('writes every K/V row to the backing and resumes from it in another model (handoff)', async () => {
    const tokens = prompt(30, 3);
    const full = fullLogits(model, tokens);
    const b = backing(model);
    const done: number[] = [];
    const seq = model.attach(b);
    model.prefill(seq, tokens.slice(0, 29), { chunkSize: 8, onLayerDone: (l) => done.push(l) });
    seq.release();
    expect(done).toEqual([0, 1]);
    const other = await loadModel({ config: smallConfig(), seed: 7 });
    const resumed = other.attach(b, { length: 29 });
    resumed.loadLayer(0); // layer 1 loads lazily
    const row = other.decode([{ seq: resumed, token: tokens[29] }]);
    expect(maxAbsDiff(row, full.subarray(29 * V))).toBeLessThan(1e-5);
    resumed.release();
    other.dispose();
  });

  it('step() mixes prefill chunks and decode tokens', () => {
    const a = model.attach(backing(model));
    model.prefill(a, prompt(6, 4));
    const b = model.attach(backing(model));
    const out = model.step([{ seq: a, tokens: [9] }, { seq: b, tokens: prompt(5, 5) }]);
    const refA = fullLogits(model, [...prompt(6, 4), 9]);
    const refB = fullLogits(model, prompt(5, 5));
    expect(maxAbsDiff(out.subarray(0, V), refA.subarray(6 * V))).toBeLessThan(1e-5);
    expect(maxAbsDiff(out.subarray(V), refB.subarray(4 * V))).toBeLessThan(1e-5);
    a.release();
    b.release();
  });

  it('keeps tf.memory().numTensors flat over 1,000 decode steps', () => {
    const seqs = [0, 1].map(() => model.attach(backing(model)));
    seqs.forEach((s, i) => model.prefill(s, prompt(4, i)));
    model.decode(seqs.map((seq) => ({ seq, token: 1 })));
    const before = tf.memory().numTensors;
    for (let step = 0; step < 1000; step++) {
      if (seqs[0].length >= model.config.nPositions) for (const [i, s] of seqs.entries()) { s.release(); seqs[i] = model.attach(backing(model)); model.prefill(seqs[i], [1]); }
      model.decode(seqs.map((seq) => ({ seq, token: step % 256 })));
      expect(tf.memory().numTensors).toBe(before);
    }
    for (const s of seqs) s.release();
  });

  it('rejects bad input with typed errors', () => {
    const seq = model.attach(backing(model));
    expect(() => model.prefill(seq, [256])).toThrow(/token id 256/);
    expect(() => model.prefill(seq, [])).toThrow(/at least one token/);
    expect(() => model.prefill(seq, prompt(161, 0))).toThrow(/n_positions 160/);
    const tight = model.attach(new ArrayKvBacking({ nLayer: 2, nEmbd: 32, capacity: 2, growable: false }));
    expect(() => model.prefill(tight, [1, 2, 3])).toThrow(/capacity 2/);
    model.prefill(seq, [1]);
    expect(() => model.decode([{ seq, token: 1 }, { seq, token: 2 }])).toThrow(/twice/);
    seq.release();
    expect(() => model.decode([{ seq, token: 1 }])).toThrow(/released/);
    tight.release();
  });
});

describe('architecture variants', () => {
  beforeAll(async () => {
    await initBackend('cpu');
  });

  /** Reference MLP-activation check: the model agrees across backends and paths for each variant. */
  async function consistent(config: GptConfig): Promise<void> {
    const m = await loadModel({ config, seed: 3 });
    const tokens = prompt(12, 6);
    const full = fullLogits(m, tokens);
    const seq = m.attach(backing(m));
    m.prefill(seq, tokens.slice(0, 11), { chunkSize: 4 });
    const row = m.decode([{ seq, token: tokens[11] }]);
    expect(maxAbsDiff(row, full.subarray(11 * 256))).toBeLessThan(1e-5);
    expect(Number.isFinite(row[0])).toBe(true);
    seq.release();
    m.dispose();
  }

  it('exact gelu', () => consistent(smallConfig({ activation: 'gelu' })));
  it('n_inner different from 4 x n_embd', () => consistent(smallConfig({ nInner: 48 })));
  it('one head, odd width', () => consistent(smallConfig({ nHead: 1, nEmbd: 24, nInner: 40, activation: 'relu' })));

  it('exact gelu differs from gelu_new', async () => {
    const a = await loadModel({ config: smallConfig({ activation: 'gelu' }), seed: 3 });
    const b = await loadModel({ config: smallConfig({ activation: 'gelu_new' }), seed: 3 });
    const d = maxAbsDiff(fullLogits(a, [1, 2, 3]), fullLogits(b, [1, 2, 3]));
    expect(d).toBeGreaterThan(0);
    a.dispose();
    b.dispose();
  });
});
