import { describe, expect, it } from 'vitest';
import { argmax, createRng, createSampler, sample, ModelArgumentError } from './index.js';

const row = Float32Array.from([1, 3, 2.9, -1, 0.5]);

describe('sampling', () => {
  it('greedy by default (ties to the lowest id)', () => {
    expect(sample(row, {}, createRng(1))).toBe(1);
    expect(argmax([2, 5, 5])).toBe(1);
  });

  it('same seed, same tokens; different seeds differ', () => {
    const draw = (seed: number): number[] => {
      const s = createSampler({ temperature: 1.5 }, createRng(seed));
      return Array.from({ length: 50 }, () => s(row));
    };
    expect(draw(42)).toEqual(draw(42));
    expect(draw(42)).not.toEqual(draw(43));
    expect(new Set(draw(42)).size).toBeGreaterThan(2);
  });

  it('top-k and top-p restrict the candidates', () => {
    const rng = createRng(5);
    for (let i = 0; i < 100; i++) {
      expect([1, 2]).toContain(sample(row, { temperature: 2, topK: 2 }, rng));
      expect(sample(row, { temperature: 2, topP: 0.01 }, rng)).toBe(1);
    }
  });

  it('rejects bad parameters naming them', () => {
    expect(() => sample(row, { temperature: -1 }, createRng(0))).toThrow(ModelArgumentError);
    expect(() => sample(row, { temperature: 1, topP: 0 }, createRng(0))).toThrow(/topP/);
    expect(() => sample(row, { temperature: 1, topK: 1.5 }, createRng(0))).toThrow(/topK/);
  });
});
