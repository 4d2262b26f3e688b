import { describe, expect, it } from 'vitest';
import { goodputOf, searchGoodput, sloScaleSweep } from './goodput.js';
import type { BenchRecord } from './runner.js';

/** Synthetic attainment: perfect up to `knee`, then falling fast. */
const cliff = (knee: number) => async (rate: number): Promise<number> => (rate <= knee ? 0.99 : Math.max(0, 0.99 - (rate - knee) * 0.2));

describe('searchGoodput', () => {
  it('brackets upward then bisects toward the knee, measuring each rate once', async () => {
    const seen: number[] = [];
    const measure = cliff(11);
    const r = await searchGoodput({ startRate: 2, bisectSteps: 4, measure: (x) => (seen.push(x), measure(x)) });
    expect(seen.slice(0, 4)).toEqual([2, 4, 8, 16]);
    expect(new Set(seen).size).toBe(seen.length);
    expect(r.goodput).not.toBeNull();
    expect(r.goodput!).toBeGreaterThanOrEqual(10);
    expect(r.goodput!).toBeLessThanOrEqual(11.5);
    expect(r.points).toHaveLength(8);
  });

  it('brackets downward when the start rate fails', async () => {
    const r = await searchGoodput({ startRate: 16, bisectSteps: 2, measure: cliff(3) });
    expect(r.points.slice(0, 3).map((p) => p.rate)).toEqual([16, 8, 4]);
    expect(r.goodput!).toBeGreaterThanOrEqual(2);
    expect(r.goodput!).toBeLessThanOrEqual(3.5);
  });

  it('returns null when even the lowest rate fails, and stops at maxRate', async () => {
    expect((await searchGoodput({ startRate: 4, measure: async () => 0.5 })).goodput).toBeNull();
    const up = await searchGoodput({ startRate: 1, maxRate: 8, measure: async () => 1 });
    expect(up.goodput).toBe(8);
    expect(up.points.map((p) => p.rate)).toEqual([1, 2, 4, 8]);
  });

  it('goodputOf takes the passing prefix (a lucky point above a failure does not count)', () => {
    expect(goodputOf([{ rate: 1, attainment: 1 }, { rate: 4, attainment: 0.95 }, { rate: 2, attainment: 0.8 }])).toBe(1);
    expect(goodputOf([{ rate: 1, attainment: 0.5 }])).toBeNull();
  });
});

describe('sloScaleSweep', () => {
  const record = (ttft: number, tpot: number): BenchRecord => ({
    id: 'x', promptTokens: 4, arrivalMs: 0, prefillStartMs: 0, tokenTimesMs: [ttft, ttft + tpot], kvTransferStartMs: null,
    kvTransferEndMs: null, finishMs: ttft + tpot, finishReason: 'length', mode: 'm', rate: 1, index: 0,
    outputTokensRequested: 2, outcome: 'finished', error: null, sendLagMs: 0,
  });

  it('finds the tightest scale that still meets 90%', () => {
    // TTFT target 100, TPOT 10: every request is at half the targets.
    const records = Array.from({ length: 10 }, () => record(50, 5));
    const r = sloScaleSweep({ records, slo: { ttftMs: 100, tpotMs: 10 } });
    expect(r.tightestScale).toBe(0.5);
    expect(r.points.find((p) => p.scale === 0.4)!.attainment).toBe(0);
  });

  it('goes above 1 for a run that misses its SLO, and counts failed records as misses', () => {
    const rejected = { ...record(1, 1), outcome: 'rejected' as const };
    const records = [...Array.from({ length: 8 }, () => record(150, 5)), rejected, rejected];
    expect(sloScaleSweep({ records, slo: { ttftMs: 100, tpotMs: 10 } }).tightestScale).toBeNull();
    const nine = Array.from({ length: 10 }, () => record(150, 5));
    expect(sloScaleSweep({ records: nine, slo: { ttftMs: 100, tpotMs: 10 } }).tightestScale).toBe(1.5);
  });
});
