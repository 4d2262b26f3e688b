import { describe, expect, it } from 'vitest';
import { Ewma, ThroughputEstimator } from './throughput-estimator.js';

describe('Ewma', () => {
  it('starts at the first sample then blends', () => {
    const e = new Ewma(0.5);
    expect(e.value).toBeNull();
    e.update(10);
    expect(e.value).toBe(10);
    e.update(20);
    expect(e.value).toBe(15);
    expect(e.samples).toBe(2);
    expect(() => new Ewma(0)).toThrow(/alpha/);
    expect(() => e.update(Number.NaN)).toThrow(/finite/);
  });
});

describe('ThroughputEstimator', () => {
  it('uses the prior until measured, then a ratio of averages', () => {
    const t = new ThroughputEstimator({ priorTokensPerSecond: 1000, alpha: 0.5 });
    expect(t.tokensPerSecond).toBe(1000);
    expect(t.measured).toBe(false);
    expect(t.msFor(500)).toBe(500);
    t.observe(200, 100); // 2000 tok/s
    expect(t.tokensPerSecond).toBe(2000);
    t.observe(10, 100); // tokens avg 105, ms avg 100 -> 1050 tok/s
    expect(t.tokensPerSecond).toBeCloseTo(1050);
    t.observe(0, 5);
    t.observe(5, 0);
    expect(t.tokensPerSecond).toBeCloseTo(1050);
    expect(t.measured).toBe(true);
  });

  it('refuses bad input', () => {
    expect(() => new ThroughputEstimator({ priorTokensPerSecond: 0 })).toThrow(/priorTokensPerSecond/);
    expect(() => new ThroughputEstimator({ priorTokensPerSecond: 1 }).observe(-1, 3)).toThrow(/>= 0/);
  });
});
