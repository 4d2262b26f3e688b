import { describe, expect, it } from 'vitest';
import { EngineError } from './errors.js';
import { LengthPredictor } from './length-predictor.js';

/** Deterministic LCG for test data. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

/** Synthetic rule: prompts starting with byte 7 are long (600), containing byte 200 medium (200), else short (10). */
function makeExample(rand: () => number): { prompt: number[]; output: number } {
  const n = 4 + Math.floor(rand() * 40);
  const prompt = Array.from({ length: n }, () => Math.floor(rand() * 256)).map((t) => (t === 7 || t === 200 ? 8 : t));
  const kind = rand();
  if (kind < 0.3) {
    prompt[0] = 7;
    return { prompt, output: 600 };
  }
  if (kind < 0.6) {
    prompt[1 + Math.floor(rand() * (n - 1))] = 200;
    return { prompt, output: 200 };
  }
  return { prompt, output: 10 };
}

describe('LengthPredictor', () => {
  it('maps lengths to buckets with the configured edges', () => {
    const p = new LengthPredictor();
    expect(p.buckets.map((b) => [b.min, b.max])).toEqual([[0, 32], [32, 128], [128, 512], [512, null]]);
    expect([0, 31, 32, 127, 128, 511, 512, 10_000].map((l) => p.bucketOf(l).index)).toEqual([0, 0, 1, 1, 2, 2, 3, 3]);
    expect(new LengthPredictor({ bucketEdges: [200] }).bucketOf(250).index).toBe(1);
    expect(() => new LengthPredictor({ bucketEdges: [10, 10] })).toThrow(/strictly increasing/);
    expect(() => p.bucketOf(-1)).toThrow(EngineError);
  });

  it('learns a synthetic prompt rule to high accuracy', () => {
    const p = new LengthPredictor({ seed: 3 });
    const train = lcg(11);
    for (let i = 0; i < 3000; i++) {
      const { prompt, output } = makeExample(train);
      p.learn(prompt, output);
    }
    const test = lcg(999);
    let correct = 0;
    const total = 500;
    for (let i = 0; i < total; i++) {
      const { prompt, output } = makeExample(test);
      if (p.predict(prompt).bucket === p.bucketOf(output).index) correct++;
    }
    expect(correct / total).toBeGreaterThan(0.95);
    const s = p.stats();
    expect(s.examples).toBe(3000);
    expect(s.accuracy).toBeGreaterThan(0.85); // prequential, includes the early mistakes
    expect(s.buckets[1].support).toBe(0); // nothing in [32, 128)
    expect(s.buckets[1].accuracy).toBeNull();
    expect(s.confusion.flat().reduce((a, b) => a + b, 0)).toBe(3000);
  });

  it('learns from prompt length alone (summarization: long prompt, short output)', () => {
    const p = new LengthPredictor({ seed: 5 });
    const rand = lcg(3);
    const example = (): { prompt: number[]; output: number } => {
      const long = rand() < 0.5;
      const n = long ? 200 + Math.floor(rand() * 300) : 2 + Math.floor(rand() * 20);
      return { prompt: Array.from({ length: n }, () => Math.floor(rand() * 256)), output: long ? 5 : 300 };
    };
    for (let i = 0; i < 1000; i++) {
      const e = example();
      p.learn(e.prompt, e.output);
    }
    let correct = 0;
    for (let i = 0; i < 200; i++) {
      const e = example();
      if (p.predict(e.prompt).bucket === p.bucketOf(e.output).index) correct++;
    }
    expect(correct / 200).toBeGreaterThan(0.95);
  });

  it('is deterministic for a seed and returns a probability distribution', () => {
    const a = new LengthPredictor({ seed: 9 });
    const b = new LengthPredictor({ seed: 9 });
    for (const p of [a, b]) {
      p.learn([1, 2, 3], 700);
      p.learn([4, 5], 3);
    }
    const pa = a.predict([1, 2, 9]);
    expect(pa).toEqual(b.predict([1, 2, 9]));
    expect(pa.probabilities.reduce((x, y) => x + y, 0)).toBeCloseTo(1);
    expect(pa.range).toBe(a.buckets[pa.bucket]);
    expect(new LengthPredictor({ seed: 10 }).predict([1]).probabilities).not.toEqual(new LengthPredictor({ seed: 9 }).predict([1]).probabilities);
  });

  it('stats start empty', () => {
    const s = new LengthPredictor().stats();
    expect(s).toMatchObject({ examples: 0, accuracy: null });
    expect(s.confusion).toEqual([[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]);
  });

  it('predicts and learns the same whether a prompt array is seen again or its content comes in a new array', () => {
    const prompts = Array.from({ length: 20 }, (_, k) => Array.from({ length: 30 + 13 * k }, (_, i) => (i * 7 + k * 31) % 251));
    const reused = new LengthPredictor({ seed: 4 });
    const fresh = new LengthPredictor({ seed: 4 });
    for (let i = 0; i < 200; i++) {
      const q = prompts[i % prompts.length];
      expect(reused.predict(q)).toEqual(fresh.predict([...q]));
      expect(reused.learn(q, (i * 37) % 700)).toEqual(fresh.learn([...q], (i * 37) % 700));
    }
    expect(reused.stats()).toEqual(fresh.stats());
    // Predictors with another feature space share the arrays and still get their own features.
    const small = new LengthPredictor({ seed: 4, hashDim: 512, edgeTokens: 2 });
    const smallFresh = new LengthPredictor({ seed: 4, hashDim: 512, edgeTokens: 2 });
    for (const q of prompts) expect(small.predict(q)).toEqual(smallFresh.predict([...q]));
  });
});
