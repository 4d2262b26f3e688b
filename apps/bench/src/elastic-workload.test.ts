import { describe, expect, it } from 'vitest';
import { goodput, goodputByPhase, attainmentOverTime } from './elastic-report.js';
import { phasedWorkload, shiftingPhases } from './elastic-workload.js';
import type { BenchRecord } from './runner.js';

describe('phasedWorkload', () => {
  it('phases back to back, each its own mix; the same seed gives the same requests; a phase alone equals it inside the shift', () => {
    const phases = shiftingPhases({ 'prefill-heavy': 2, 'decode-heavy': 4 }, 10_000);
    const w = phasedWorkload(phases, 7);
    expect(w.startsMs).toEqual([0, 10_000, 20_000]);
    expect(w.totalMs).toBe(30_000);
    expect(phasedWorkload(phases, 7)).toEqual(w);
    w.requests.forEach((r, i) => {
      expect(r.index).toBe(i);
      expect(r.arrivalMs).toBeGreaterThanOrEqual(w.startsMs[w.phaseOf[i]]);
      expect(r.arrivalMs).toBeLessThan(w.startsMs[w.phaseOf[i]] + 10_000);
    });
    const mean = (k: number, f: (r: (typeof w.requests)[number]) => number): number => {
      const rs = w.requests.filter((_r, i) => w.phaseOf[i] === k);
      return rs.reduce((n, r) => n + f(r), 0) / rs.length;
    };
    expect(mean(0, (r) => r.promptIds.length)).toBeGreaterThan(4 * mean(1, (r) => r.promptIds.length));
    expect(mean(1, (r) => r.maxTokens)).toBeGreaterThan(4 * mean(0, (r) => r.maxTokens));
    const alone = phasedWorkload([phases[1]], 7);
    expect(alone.requests.map((r) => r.promptIds)).toEqual(w.requests.filter((_r, i) => w.phaseOf[i] === 1).map((r) => r.promptIds));
    expect(() => phasedWorkload([{ ...phases[0], rate: 0 }], 1)).toThrow(/rate/);
  });
});

describe('elastic report', () => {
  it('attainment per time bin, goodput overall and per phase', () => {
    const w = phasedWorkload(shiftingPhases({ 'prefill-heavy': 1, 'decode-heavy': 1 }, 4_000), 3);
    const slo = { ttftMs: 100, tpotMs: 10 };
    const records = w.requests.map((r, i) => ({
      index: r.index, outcome: 'finished', arrivalMs: 0, tokenTimesMs: w.phaseOf[i] === 1 ? [500, 501] : [50, 51],
    })) as unknown as BenchRecord[];
    const byPhase = goodputByPhase(records, w, slo);
    expect(byPhase[1]).toBe(0);
    expect(byPhase[0]).toBeCloseTo(w.phaseOf.filter((k) => k === 0).length / 4, 6);
    expect(goodput(records, slo, w.totalMs)).toBeCloseTo(w.phaseOf.filter((k) => k !== 1).length / 12, 6);
    for (const [t, a] of attainmentOverTime(records, w, slo, 4_000)) expect(a).toBe(t === 4 ? 0 : 1);
  });
});
