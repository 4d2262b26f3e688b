import { describe, expect, it } from 'vitest';
import type { SuiteResult } from './bench-suite.js';
import { ratioStats, repFigures } from './comparison-report.js';

const rep = (d: number | null, c: number | null, ds: number | null, cs: number | null): SuiteResult => ({
  modes: [
    { mode: 'disaggregated', label: 'd', workers: '1P+1D', goodput: d, points: [{ rate: 1, attainment: 1 }], runs: [] },
    { mode: 'colocated', label: 'c', workers: '2x', goodput: c, points: [{ rate: 1, attainment: 0.5 }, { rate: 2, attainment: 0.5 }], runs: [] },
  ],
  referenceRate: 1,
  sweeps: [
    { mode: 'disaggregated', sweep: { tightestScale: ds, points: [] } },
    { mode: 'colocated', sweep: { tightestScale: cs, points: [] } },
  ],
  byRate: [],
});

describe('repFigures / ratioStats', () => {
  it('divides disaggregated goodput by the baseline and the baseline scale by disaggregated', () => {
    const f = repFigures(rep(4, 2, 0.5, 2));
    expect(f.goodputRatio.colocated).toEqual({ value: 2, bound: false });
    expect(f.scaleRatio.colocated).toEqual({ value: 4, bound: false });
  });

  it('a baseline that never passed gives a lower bound; a failed disaggregated gives none', () => {
    const f = repFigures(rep(2, null, 0.5, null));
    expect(f.goodputRatio.colocated).toEqual({ value: 2, bound: true });
    expect(f.scaleRatio.colocated?.bound).toBe(true);
    expect(repFigures(rep(null, 2, null, 1)).goodputRatio.colocated).toBeNull();
  });

  it('a run stopped early (no sweep) leaves the scale ratio unknown, not a bound', () => {
    const r = rep(4, null, 0.5, null);
    const f = repFigures({ ...r, sweeps: [r.sweeps[0], { mode: 'colocated', sweep: null }] });
    expect(f.swept).toEqual({ disaggregated: true, colocated: false });
    expect(f.scaleRatio.colocated).toBeNull();
    expect(f.goodputRatio.colocated).toEqual({ value: 4, bound: true });
  });

  it('median and spread over repetitions', () => {
    const s = ratioStats([{ value: 3, bound: false }, { value: 1, bound: false }, { value: 2, bound: true }]);
    expect(s).toEqual({ median: 2, min: 1, max: 3, bound: true });
    expect(ratioStats([{ value: 1, bound: false }, null])).toBeNull();
  });
});
