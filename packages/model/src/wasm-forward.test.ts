import { setFlagsFromString } from 'node:v8';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArrayKvBacking, initBackend, loadModel, type Gpt, type GptConfig, type ModelSequence } from './index.js';
import { relativeDiff, smallConfig } from './testing/fixtures.js';
import { WasmForward } from './wasm-forward.js';

// NOTE: this file runs the kernels with relaxed-SIMD FMA (Node 20 compiles it only behind this flag;
// set at run time it applies to modules compiled afterwards); gpt.test.ts runs the plain ones.
setFlagsFromString('--experimental-wasm-relaxed-simd');

function prompt(n: number, seed: number): number[] {
  return Array.from({ length: n }, (_, i) => (i * 29 + seed * 13 + 3) % 256);
}

/** Loads the model with the wasm kernels (default) or with the tfjs reference path on the same backend. */
async function load(kernels: boolean, nPositions = 96, threads = 1, shape: Partial<GptConfig> = {}): Promise<Gpt> {
  const before = [process.env['BATON_WASM_KERNELS'], process.env['BATON_CPU_THREADS']];
  process.env['BATON_WASM_KERNELS'] = kernels ? '1' : '0';
  process.env['BATON_CPU_THREADS'] = String(threads);
  try {
    return await loadModel({ config: smallConfig({ nPositions, nEmbd: 64, nHead: 4, nInner: 256, nLayer: 3, ...shape }), seed: 5 });
  } finally {
    for (const [i, name] of ['BATON_WASM_KERNELS', 'BATON_CPU_THREADS'].entries()) {
      if (before[i] === undefined) delete process.env[name];
      else process.env[name] = before[i];
    }
  }
}

function attach(m: Gpt): ModelSequence {
  return m.attach(new ArrayKvBacking({ nLayer: m.config.nLayer, nEmbd: m.config.nEmbd }));
}

describe('wasm-kernel forward pass against the tfjs reference (wasm backend)', () => {
  let fast: Gpt;
  let ref: Gpt;
  beforeAll(async () => {
    await initBackend('wasm');
    fast = await load(true);
    ref = await load(false);
  });
  afterAll(() => { fast.dispose(); ref.dispose(); });

  it('runs the FMA kernels, and the config it supports and refuses others', () => {
    expect(fast.forwardPath).toBe('wasm-fma');
    expect(WasmForward.supports(fast.config)).toBe(true);
    expect(WasmForward.supports({ ...fast.config, nHead: 5, nEmbd: 60 })).toBe(false); // head size 12
    expect(WasmForward.supports({ ...fast.config, activation: 'relu' })).toBe(false);
  });

  it('prefill (all logits, chunked) and decode agree within 1e-4, and K/V rows agree', () => {
    const tokens = prompt(50, 1);
    const seqs = [attach(fast), attach(ref)];
    const [a, b] = seqs.map((s, i) => [fast, ref][i].prefill(s, tokens, { logits: 'all', chunkSize: 19 }));
    expect(relativeDiff(b, a)).toBeLessThan(1e-4);
    for (const t of [7, 200, 31]) {
      const [da, db] = seqs.map((s, i) => [fast, ref][i].decode([{ seq: s, token: t }]));
      expect(relativeDiff(db, da)).toBeLessThan(1e-4);
    }
    const C = fast.config.nEmbd;
    const [ka, kb] = seqs.map((s) => { const out = new Float32Array(53 * C); s.backing.read(2, 'k', 0, 53, out); return out; });
    expect(relativeDiff(kb, ka)).toBeLessThan(1e-4);
    for (const s of seqs) s.release();
  });

  it('prefill returning last logits only (chunks without logits, then the last) agrees, K/V of the last layer too', () => {
    const tokens = prompt(70, 3);
    const seqs = [attach(fast), attach(ref)];
    const [a, b] = seqs.map((s, i) => [fast, ref][i].prefill(s, tokens, { chunkSize: 32 }));
    expect(relativeDiff(b, a)).toBeLessThan(1e-4);
    const [da, db] = seqs.map((s, i) => [fast, ref][i].decode([{ seq: s, token: 9 }]));
    expect(relativeDiff(db, da)).toBeLessThan(1e-4);
    const { nEmbd: C, nLayer: L } = fast.config;
    for (const kind of ['k', 'v'] as const) {
      const [ka, kb] = seqs.map((s) => { const out = new Float32Array(71 * C); s.backing.read(L - 1, kind, 0, 71, out); return out; });
      expect(relativeDiff(kb, ka)).toBeLessThan(1e-4);
    }
    for (const s of seqs) s.release();
  });

  it('several prefill segments in one call give each segment\'s last logits, bitwise as alone', () => {
    // NOTE: the model API prefills one sequence per call; the pass itself takes several segments.
    const pass = (fast as unknown as { cpu: WasmForward }).cpu;
    const parts = [prompt(5, 6), prompt(9, 7), prompt(1, 8)];
    const together = parts.map(() => attach(fast));
    const got = pass.forward(parts.map((tokens, i) => ({ seq: together[i], tokens })), 'last');
    const V = fast.config.vocabSize;
    parts.forEach((tokens, i) => {
      const seq = attach(fast);
      expect(fast.prefill(seq, tokens)).toEqual(got?.subarray(i * V, (i + 1) * V));
      expect(fast.decode([{ seq, token: 3 }])).toEqual(fast.decode([{ seq: together[i], token: 3 }]));
      seq.release();
    });
    for (const s of together) s.release();
  });

  it('creates no tensors per call', () => {
    const before = tf.memory().numTensors;
    const seq = attach(fast);
    fast.prefill(seq, prompt(30, 2));
    fast.decode([{ seq, token: 1 }]);
    seq.release();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('wasm-kernel decode batches longer than one call holds', () => {
  it('splits them and stays bitwise equal to decoding each sequence alone', async () => {
    await initBackend('wasm');
    const m = await load(true, 16);
    const make = (): ModelSequence[] => Array.from({ length: 21 }, (_, i) => {
      const s = attach(m);
      m.prefill(s, prompt(1 + (i % 9), i));
      return s;
    });
    const batched = make();
    const rows = m.decode(batched.map((seq, i) => ({ seq, token: i })));
    const alone = make();
    const V = m.config.vocabSize;
    alone.forEach((seq, i) => expect(m.decode([{ seq, token: i }])).toEqual(rows.subarray(i * V, (i + 1) * V)));
    for (const s of [...batched, ...alone]) s.release();
    m.dispose();
  });
});

describe('wasm-kernel forward pass on two threads', () => {
  it('is bitwise equal to one thread (GEMM rows split between threads)', async () => {
    await initBackend('wasm');
    const [one, two] = [await load(true, 96, 1), await load(true, 96, 2)];
    const tokens = prompt(90, 4);
    const [a, b] = [one, two].map((m) => {
      const seq = attach(m);
      const out = m.prefill(seq, tokens, { logits: 'all', chunkSize: 90 });
      seq.release();
      return out;
    });
    expect(b).toEqual(a);
    one.dispose();
    two.dispose();
  });

  it('decodes bitwise equal to one thread (MLP GEMMs split by columns, attention by sequences)', async () => {
    await initBackend('wasm');
    // NOTE: 256 wide, MLP 2048: each MLP GEMM of the 5-row batch is over 2 M multiply-adds, so it splits.
    const shape = { nEmbd: 256, nInner: 2048, nLayer: 2 };
    const [one, two] = [await load(true, 96, 1, shape), await load(true, 96, 2, shape)];
    const [a, b] = [one, two].map((m) => {
      const seqs = Array.from({ length: 5 }, (_, i) => {
        const seq = attach(m);
        m.prefill(seq, prompt(3 + i, i));
        return seq;
      });
      const out = [m.decode(seqs.map((seq, i) => ({ seq, token: i }))), m.decode([{ seq: seqs[0], token: 7 }])];
      for (const s of seqs) s.release();
      return out;
    });
    expect(b).toEqual(a);
    one.dispose();
    two.dispose();
  });

  it('refuses a bad BATON_CPU_THREADS', async () => {
    await initBackend('wasm');
    process.env['BATON_CPU_THREADS'] = 'many';
    try {
      await expect(loadModel({ config: smallConfig(), seed: 1 })).rejects.toThrow(/BATON_CPU_THREADS/);
    } finally {
      delete process.env['BATON_CPU_THREADS'];
    }
  });
});
