import { describe, expect, it } from 'vitest';
import { EngineError } from './errors.js';
import { DEFAULT_LATENCY_BUCKETS_MS, Histogram, exponentialBuckets, linearBuckets } from './histogram.js';

describe('Histogram', () => {
  it('counts into cumulative le-buckets with +Inf', () => {
    const h = new Histogram([1, 2, 5]);
    for (const v of [0.5, 1, 1.5, 2, 3, 10]) h.observe(v);
    expect(h.snapshot()).toEqual({ bounds: [1, 2, 5], cumulative: [2, 4, 5, 6], count: 6, sum: 18, min: 0.5, max: 10 });
    expect(h.mean).toBe(3);
  });

  it('interpolates quantiles inside the bucket', () => {
    const h = new Histogram([10, 20, 30, 40]);
    for (let v = 1; v <= 40; v++) h.observe(v); // 10 per bucket
    expect(h.quantile(0.5)).toBe(20);
    expect(h.quantile(0.25)).toBe(10);
    expect(h.quantile(0.9)).toBe(36);
    expect(h.quantile(0)).toBe(1); // clamped to min
    expect(h.quantile(1)).toBe(40);
  });

  it('clamps to the observed range instead of returning a bound (+Inf bucket)', () => {
    const h = new Histogram([1]);
    h.observe(50);
    h.observe(70);
    expect(h.quantile(0.99)).toBeLessThanOrEqual(70);
    expect(h.quantile(0.99)).toBeGreaterThanOrEqual(50);
  });

  it('answers null while empty and refuses bad input', () => {
    const h = new Histogram();
    expect(h.quantile(0.5)).toBeNull();
    expect(h.mean).toBeNull();
    expect(() => h.observe(Number.NaN)).toThrow(EngineError);
    expect(() => h.quantile(1.5)).toThrow(/q must be in/);
    expect(() => new Histogram([2, 1])).toThrow(/strictly increasing/);
    expect(() => new Histogram([])).toThrow(/empty/);
  });

  it('builds Prometheus bucket series', () => {
    expect(exponentialBuckets(1, 2, 4)).toEqual([1, 2, 4, 8]);
    expect(linearBuckets(0, 5, 3)).toEqual([0, 5, 10]);
    expect(DEFAULT_LATENCY_BUCKETS_MS[0]).toBe(0.5);
    expect(() => exponentialBuckets(0, 2, 3)).toThrow(EngineError);
    const h = new Histogram([1, 2]);
    h.observe(1.5);
    expect(h.toPrometheus('baton_ttft_ms', { mode: 'disaggregated' }).split('\n')).toEqual([
      'baton_ttft_ms_bucket{mode="disaggregated",le="1"} 0',
      'baton_ttft_ms_bucket{mode="disaggregated",le="2"} 1',
      'baton_ttft_ms_bucket{mode="disaggregated",le="+Inf"} 1',
      'baton_ttft_ms_sum{mode="disaggregated"} 1.5',
      'baton_ttft_ms_count{mode="disaggregated"} 1',
    ]);
  });
});

describe('Histogram (property)', () => {
  it('quantiles stay within the observed range and grow with q', async () => {
    const fc = await import('fast-check');
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 1e5, noNaN: true }), { minLength: 1, maxLength: 200 }), (values) => {
        const h = new Histogram();
        for (const v of values) h.observe(v);
        let prev = -Infinity;
        for (const q of [0, 0.1, 0.5, 0.9, 0.99, 1]) {
          const x = h.quantile(q)!;
          expect(x).toBeGreaterThanOrEqual(Math.min(...values));
          expect(x).toBeLessThanOrEqual(Math.max(...values));
          expect(x).toBeGreaterThanOrEqual(prev);
          prev = x;
        }
      }),
      { seed: 7, numRuns: 200 },
    );
  });
});
