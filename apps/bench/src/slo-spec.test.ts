import { describe, expect, it } from 'vitest';
import type { BenchRecord } from './runner.js';
import { attainment } from './runner.js';
import { fixedSlo, meetsSpec, slowdownSlo } from './slo-spec.js';

const record = (promptTokens: number, ttft: number, tpot: number): BenchRecord => ({
  id: 'x', promptTokens, arrivalMs: 0, prefillStartMs: 0, tokenTimesMs: [ttft, ttft + tpot], kvTransferStartMs: null,
  kvTransferEndMs: null, finishMs: ttft + tpot, finishReason: 'length', mode: 'm', rate: 1, index: 0,
  outputTokensRequested: 2, outcome: 'finished', error: null, sendLagMs: 0,
});
const ref = { ttft: [{ promptTokens: 100, ttftMs: 50 }, { promptTokens: 300, ttftMs: 150 }], tpotMs: 4 };

describe('slowdownSlo', () => {
  it('targets K x the uncontended TTFT at the request\'s prompt length and K x the uncontended TPOT', () => {
    const s = slowdownSlo(2, ref, 200);
    expect(s.targetsFor(100)).toEqual({ ttftMs: 100, tpotMs: 8 });
    expect(s.targetsFor(200)).toEqual({ ttftMs: 200, tpotMs: 8 });
    expect(s.targetsFor(600).ttftMs).toBeCloseTo(600);
    expect(s.nominal).toEqual({ ttftMs: 200, tpotMs: 8 });
    expect(s.scaled(0.5).targetsFor(300)).toEqual({ ttftMs: 150, tpotMs: 4 });
    const apart = slowdownSlo({ ttft: 8, tpot: 2 }, ref, 100);
    expect(apart.nominal).toEqual({ ttftMs: 400, tpotMs: 8 });
    expect(apart.scaled(0.5).nominal).toEqual({ ttftMs: 200, tpotMs: 4 });
  });

  it('never gives a longer prompt a tighter TTFT target (noisy references are made monotone)', () => {
    const s = slowdownSlo(1, { ttft: [{ promptTokens: 100, ttftMs: 80 }, { promptTokens: 200, ttftMs: 60 }], tpotMs: 1 }, 100);
    expect(s.targetsFor(200).ttftMs).toBeGreaterThanOrEqual(s.targetsFor(100).ttftMs);
  });

  it('scores each record against its own targets', () => {
    const s = slowdownSlo(2, ref, 200);
    expect(meetsSpec(record(300, 290, 7), s)).toBe(true);
    expect(meetsSpec(record(100, 110, 7), s)).toBe(false);
    expect(attainment([record(300, 290, 7), record(100, 110, 7)], s)).toBe(0.5);
  });

  it('fixed targets ignore the prompt length and scale both targets', () => {
    const f = fixedSlo({ ttftMs: 100, tpotMs: 10 });
    expect(f.targetsFor(1)).toEqual(f.targetsFor(1000));
    expect(f.scaled(2).nominal).toEqual({ ttftMs: 200, tpotMs: 20 });
    expect(() => slowdownSlo(1, { ttft: [], tpotMs: 1 }, 1)).toThrow(RangeError);
  });
});
