import { describe, expect, it } from 'vitest';
import { distribution, meetsSlo, percentile, summarize } from './metrics.js';
import { requestMetrics, type RequestTimingRecord } from './request-timing.js';

function rec(id: string, arrivalMs: number, tokenTimesMs: number[], finishReason: RequestTimingRecord['finishReason'] = 'length'): RequestTimingRecord {
  return {
    id,
    promptTokens: 4,
    arrivalMs,
    prefillStartMs: arrivalMs + 1,
    tokenTimesMs,
    kvTransferStartMs: null,
    kvTransferEndMs: null,
    finishMs: tokenTimesMs.at(-1) ?? arrivalMs,
    finishReason,
  };
}

describe('percentile and distribution', () => {
  it('interpolates between order statistics', () => {
    const s = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    expect(percentile(s, 50)).toBe(5.5);
    expect(percentile(s, 90)).toBeCloseTo(9.1);
    expect(percentile(s, 0)).toBe(1);
    expect(percentile(s, 100)).toBe(10);
    expect(percentile([], 50)).toBeNull();
    expect(() => percentile(s, 101)).toThrow(/p must be in/);
  });

  it('does not mutate its input and reports nulls when empty', () => {
    const v = [3, 1, 2];
    expect(distribution(v)).toMatchObject({ count: 3, mean: 2, p50: 2, min: 1, max: 3 });
    expect(v).toEqual([3, 1, 2]);
    expect(distribution([])).toEqual({ count: 0, mean: null, p50: null, p90: null, p99: null, min: null, max: null });
  });
});

describe('summarize', () => {
  const records = [
    rec('a', 0, [100, 120, 140]), // ttft 100, tpot 20
    rec('b', 0, [300, 400]), // ttft 300, tpot 100
    rec('c', 0, [50]), // ttft 50, tpot null
    rec('d', 0, [], 'abort'), // no token
  ];

  it('aggregates per-request metrics and finish reasons', () => {
    const s = summarize(records);
    expect(s.requests).toBe(4);
    expect(s.outputTokens).toBe(6);
    expect(s.finishReasons).toEqual({ length: 3, stop: 0, abort: 1, error: 0, unfinished: 0 });
    expect(s.ttftMs).toMatchObject({ count: 3, p50: 100, mean: 150, min: 50, max: 300 });
    expect(s.tpotMs).toMatchObject({ count: 2, mean: 60 });
    expect(s.itlMs).toMatchObject({ count: 3, min: 20, max: 100 });
    expect(s.jctMs.max).toBe(400);
    expect(s.queueMs.p50).toBe(1);
    expect(s.kvTransferMs.count).toBe(0);
    expect(s.sloAttainment).toBeNull();
  });

  it('computes SLO attainment over all requests', () => {
    // a meets (100<=200, 20<=50), b fails TTFT, c meets (no TPOT), d fails (no token)
    expect(summarize(records, { slo: { ttftMs: 200, tpotMs: 50 } }).sloAttainment).toBe(0.5);
    expect(meetsSlo(requestMetrics(records[1]), { ttftMs: 1000, tpotMs: 99 })).toBe(false);
    expect(summarize([], { slo: { ttftMs: 1, tpotMs: 1 } }).sloAttainment).toBeNull();
  });
});
