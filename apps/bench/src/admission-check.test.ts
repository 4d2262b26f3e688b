import { describe, expect, it } from 'vitest';
import { checkAdmission } from './admission-check.js';
import type { BenchRecord, RunResult } from './runner.js';

const rec = (index: number, ttft: number | null): BenchRecord => ({
  id: `r${index}`, promptTokens: 8, arrivalMs: 0, prefillStartMs: null, tokenTimesMs: ttft === null ? [] : [ttft, ttft + 1],
  kvTransferStartMs: null, kvTransferEndMs: null, finishMs: 1, finishReason: ttft === null ? 'error' : 'length', mode: 'm', rate: 1, index,
  outputTokensRequested: 2, outcome: ttft === null ? 'rejected' : 'finished', error: null, sendLagMs: 0,
});
const run = (rate: number, records: BenchRecord[]): RunResult => ({
  mode: 'm', rate, records, attainment: 0, attainmentUpper: 0, stoppedEarly: false, wallMs: 1, actors: [],
  summary: undefined as unknown as RunResult['summary'],
});
const targets = { ttftMs: 100, tpotMs: 10 };

describe('checkAdmission', () => {
  it('counts rejections whose request missed its SLO without rejection as right', () => {
    // With rejection: 0 and 1 rejected, 2..9 met. Without: 0 missed (TTFT 500), 1 met, 2 missed.
    const on = run(2, [rec(0, null), rec(1, null), ...Array.from({ length: 8 }, (_, i) => rec(i + 2, 50))]);
    const off = run(2, [rec(0, 500), rec(1, 50), rec(2, 400), ...Array.from({ length: 7 }, (_, i) => rec(i + 3, 50))]);
    const c = checkAdmission([on], [off], targets);
    expect(c.rates).toHaveLength(1);
    const r = c.rates[0];
    expect([r.rejected, r.rightlyRejected, r.precision, r.missedButAdmitted]).toEqual([2, 1, 0.5, 1]);
    expect([r.attainmentOn, r.attainmentOff]).toEqual([0.8, 0.8]);
  });

  it('fails when goodput with rejection on is below goodput with it off', () => {
    const good = Array.from({ length: 10 }, (_, i) => rec(i, 50));
    const halfRejected = good.map((r, i) => (i % 2 === 0 ? rec(i, null) : r));
    const c = checkAdmission([run(1, halfRejected)], [run(1, good)], targets);
    expect(c.goodputOff).toBe(1);
    expect(c.goodputOn).toBeNull();
    expect(c.ok).toBe(false);
    expect(c.rates[0].precision).toBe(0);
    expect(checkAdmission([run(1, good)], [run(1, good)], targets).ok).toBe(true);
  });
});
