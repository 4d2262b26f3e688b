import { describe, expect, it } from 'vitest';
import { summarize } from '@baton/engine';
import { summarizeSuite, type ModeResult } from './bench-suite.js';
import { figuresByRate, formatRateSweeps, rateFigures, tighterSloChart } from './rate-sweep-report.js';
import type { BenchRecord, RunResult } from './runner.js';
import { fixedSlo } from './slo-spec.js';

const SLO = fixedSlo({ ttftMs: 100, tpotMs: 10 });

/** Ten finished requests: TTFT 50 ms, TPOT `tpot` ms (4 tokens each). */
function run(mode: string, rate: number, tpot: number): RunResult {
  const records: BenchRecord[] = Array.from({ length: 10 }, (_, i) => ({
    id: `${mode}-${rate}-${i}`, promptTokens: 16, arrivalMs: i * 1000, prefillStartMs: i * 1000,
    tokenTimesMs: [0, 1, 2, 3].map((k) => i * 1000 + 50 + k * tpot), kvTransferStartMs: null, kvTransferEndMs: null,
    finishMs: i * 1000 + 50 + 3 * tpot, finishReason: 'length',
    mode, rate, index: i, outputTokensRequested: 4, outcome: 'finished', error: null, sendLagMs: 0,
  }));
  return { mode, rate, records, summary: summarize(records, { slo: SLO.nominal }), attainment: 1, attainmentUpper: 1, stoppedEarly: false, wallMs: 10_000, actors: [] };
}

/** Disaggregated keeps TPOT 5 ms at every rate; colocated's TPOT grows with the rate. */
function rep(colocatedTpot: Record<number, number>): ReturnType<typeof summarizeSuite> {
  const rates = Object.keys(colocatedTpot).map(Number);
  const modes: ModeResult[] = [
    { mode: 'disaggregated', label: 'd', workers: '1P+1D', goodput: null, points: [], runs: rates.map((r) => run('d', r, 5)) },
    { mode: 'colocated', label: 'c', workers: '2x', goodput: null, points: [], runs: rates.map((r) => run('c', r, colocatedTpot[r])) },
  ];
  return summarizeSuite(modes, SLO);
}

describe('per-rate SLO-scale sweeps', () => {
  it('summarizeSuite sweeps every common rate, ascending; the reference rate keeps its sweep', () => {
    const r = rep({ 2: 20, 1: 8 });
    expect(r.byRate.map((b) => b.rate)).toEqual([1, 2]);
    expect(r.referenceRate).toBe(2);
    expect(r.sweeps).toEqual(r.byRate[1].sweeps);
    // TPOT 5 ms against a 10 ms target: scale 0.5 is the tightest met; TPOT 20 ms needs scale 2.
    expect(r.byRate[0].sweeps.map((s) => s.sweep?.tightestScale)).toEqual([0.5, 0.8]);
    expect(r.byRate[1].sweeps.map((s) => s.sweep?.tightestScale)).toEqual([0.5, 2]);
  });

  it('rateFigures gives the ratio at each rate; figuresByRate groups repetitions', () => {
    const f = rateFigures(rep({ 1: 8, 2: 20 }));
    expect(f.map((x) => x.scaleRatio.colocated?.value)).toEqual([1.6, 4]);
    expect(f[1].tpotP90Ms.colocated).toBeCloseTo(20);
    const grouped = figuresByRate([rep({ 1: 8, 2: 20 }), rep({ 1: 10, 2: 10 })]);
    expect(grouped.map((g) => [g.rate, g.reps.map((x) => x.scaleRatio.colocated?.value)])).toEqual([[1, [1.6, 2]], [2, [4, 2]]]);
  });

  it('the table reports each repetition, the median ratio and how many reached 2x; the chart is an SVG', () => {
    const reps = [rep({ 1: 8, 2: 20 }), rep({ 1: 10, 2: 10 }), rep({ 1: 5, 2: 40 })];
    const text = formatRateSweeps(reps, ['disaggregated', 'colocated']);
    expect(text).toContain('0.8 / 1 / 0.5');
    expect(text).toMatch(/^2 .* 4\.00x \[2\.00, 8\.00\] +3 of 3$/m);
    expect(text).toMatch(/^1 .* 1\.60x \[1\.00, 2\.00\] +1 of 3$/m);
    const svg = tighterSloChart(reps, ['colocated'], 'test');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('2x goal');
  });
});
