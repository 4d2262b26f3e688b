import { describe, expect, it } from 'vitest';
import { WorkloadError } from './bench-errors.js';
import { MIXES, arrivalTimes, atRate, generateWorkload } from './workload.js';
import { createRng } from '@baton/model';

function gaps(times: number[]): number[] {
  return times.slice(1).map((t, i) => t - times[i]);
}

function meanCv(xs: number[]): { mean: number; cv: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length);
  return { mean, cv: sd / mean };
}

describe('generateWorkload', () => {
  it('is deterministic for a seed and differs across seeds', () => {
    const a = generateWorkload({ mix: 'chat', count: 50, seed: 7 });
    const b = generateWorkload({ mix: 'chat', count: 50, seed: 7 });
    const c = generateWorkload({ mix: 'chat', count: 50, seed: 8 });
    expect(a).toEqual(b);
    expect(c.requests.map((r) => r.promptIds.length)).not.toEqual(a.requests.map((r) => r.promptIds.length));
  });

  it('keeps every mix within its stated bounds and the context', () => {
    for (const mix of ['chat', 'summarize', 'generate'] as const) {
      const w = generateWorkload({ mix, count: 300, seed: 1 });
      for (const r of w.requests) {
        expect(r.promptIds.length).toBeGreaterThanOrEqual(MIXES[mix].prompt.min);
        expect(r.promptIds.length).toBeLessThanOrEqual(MIXES[mix].prompt.max);
        expect(r.maxTokens).toBeGreaterThanOrEqual(MIXES[mix].output.min);
        expect(r.maxTokens).toBeLessThanOrEqual(MIXES[mix].output.max);
        expect(r.promptIds.length + r.maxTokens).toBeLessThanOrEqual(1024);
        expect(r.promptIds.every((t) => Number.isInteger(t) && t >= 0 && t < 256)).toBe(true);
      }
    }
    const s = generateWorkload({ mix: 'summarize', count: 200, seed: 2 }).requests;
    const g = generateWorkload({ mix: 'generate', count: 200, seed: 2 }).requests;
    const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(s.map((r) => r.promptIds.length))).toBeGreaterThan(mean(g.map((r) => r.promptIds.length)) * 5);
    expect(mean(g.map((r) => r.maxTokens))).toBeGreaterThan(mean(s.map((r) => r.maxTokens)) * 5);
  });

  it('builds multi-turn conversations whose turns extend the previous prompt', () => {
    const w = generateWorkload({ mix: 'multiturn', count: 32, seed: 3, maxContext: 1024 }).requests;
    // Group of 4 conversations x 4 turns: request i + 4 is the next turn of request i's conversation.
    for (const i of [0, 1, 2, 3, 4, 5, 8, 17, 20]) {
      const prev = w[i].promptIds;
      const next = w[i + 4].promptIds;
      expect(next.length).toBeGreaterThan(prev.length);
      expect(next.slice(0, prev.length)).toEqual(prev);
    }
    // A new group starts fresh conversations.
    expect(w[16].promptIds.slice(0, 50)).not.toEqual(w[12].promptIds.slice(0, 50));
    for (const r of w) expect(r.promptIds.length + r.maxTokens).toBeLessThanOrEqual(1024);
  });

  it('rejects bad options with a typed error naming the option', () => {
    expect(() => generateWorkload({ mix: 'chat', count: 0, seed: 1 })).toThrow(WorkloadError);
    expect(() => generateWorkload({ mix: 'chat', count: 5, seed: 1, arrival: { kind: 'gamma', cv: 0 } })).toThrow(/cv/);
    expect(() => atRate(generateWorkload({ mix: 'chat', count: 5, seed: 1 }), -1)).toThrow(/rate/);
  });
});

describe('arrivals', () => {
  it('Poisson: mean rate 1 req/s and CV 1', () => {
    const { mean, cv } = meanCv(gaps(arrivalTimes(20_000, { kind: 'poisson' }, createRng(11))));
    expect(mean).toBeGreaterThan(970);
    expect(mean).toBeLessThan(1030);
    expect(cv).toBeGreaterThan(0.95);
    expect(cv).toBeLessThan(1.05);
  });

  it.each([0.5, 2, 4])('gamma: mean rate 1 req/s and the requested CV (%s)', (target) => {
    const { mean, cv } = meanCv(gaps(arrivalTimes(40_000, { kind: 'gamma', cv: target }, createRng(5))));
    expect(mean).toBeGreaterThan(940);
    expect(mean).toBeLessThan(1060);
    expect(cv).toBeGreaterThan(target * 0.9);
    expect(cv).toBeLessThan(target * 1.1);
  });

  it('atRate rescales time only', () => {
    const w = generateWorkload({ mix: 'chat', count: 20, seed: 4 });
    const fast = atRate(w, 10);
    expect(fast.map((r) => r.promptIds)).toEqual(w.requests.map((r) => r.promptIds));
    fast.forEach((r, i) => expect(r.arrivalMs).toBeCloseTo(w.requests[i].arrivalMs / 10, 9));
  });
});
