/**
 * The SLO-scale sweep at every fixed rate of a comparison: per rate and repetition the tightest
 * scale each mode met, the ratio against each baseline (how much tighter an SLO disaggregated
 * met), their median and spread over repetitions, the median latency percentiles per rate, and a
 * chart of the ratio against the rate. Shows where on the rate axis disaggregation starts to win.
 *
 * Invariants: nothing here measures; repetitions lacking a rate are skipped for that rate; ratios
 * follow {@link scaleRatioOf} (a baseline failing every scale gives a lower bound).
 */
import type { SuiteResult } from './bench-suite.js';
import { renderLineChart } from './charts.js';
import { ratioStats, scaleRatioOf, stats, type Ratio } from './comparison-report.js';
import { median } from './stats.js';
import { table } from './text-table.js';

/** One rate of one repetition. */
export interface RateFigures {
  rate: number;
  /** Tightest SLO scale met per mode (null: none, or no complete run). */
  tightestScale: Record<string, number | null>;
  /** Baseline scale / disaggregated scale, per baseline mode. */
  scaleRatio: Record<string, Ratio | null>;
  /** TTFT and TPOT p90 of each mode's run at this rate (ms; null: no finished request). */
  ttftP90Ms: Record<string, number | null>;
  tpotP90Ms: Record<string, number | null>;
}

/** Figures of every rate of one repetition, ascending. */
export function rateFigures(rep: SuiteResult): RateFigures[] {
  return rep.byRate.map(({ rate, sweeps }) => {
    const tightestScale: RateFigures['tightestScale'] = {};
    const ttftP90Ms: RateFigures['ttftP90Ms'] = {};
    const tpotP90Ms: RateFigures['tpotP90Ms'] = {};
    for (const m of rep.modes) {
      tightestScale[m.mode] = sweeps.find((s) => s.mode === m.mode)?.sweep?.tightestScale ?? null;
      const run = m.runs.find((r) => r.rate === rate);
      ttftP90Ms[m.mode] = run?.summary.ttftMs.p90 ?? null;
      tpotP90Ms[m.mode] = run?.summary.tpotMs.p90 ?? null;
    }
    const scaleRatio: RateFigures['scaleRatio'] = {};
    if ('disaggregated' in tightestScale) {
      for (const m of rep.modes) if (m.mode !== 'disaggregated') scaleRatio[m.mode] = scaleRatioOf(tightestScale.disaggregated, tightestScale[m.mode]);
    }
    return { rate, tightestScale, scaleRatio, ttftP90Ms, tpotP90Ms };
  });
}

/** Per rate: every repetition's figures at it (repetition order). */
export function figuresByRate(reps: readonly SuiteResult[]): Array<{ rate: number; reps: RateFigures[] }> {
  const all = reps.map(rateFigures);
  const rates = [...new Set(all.flatMap((r) => r.map((f) => f.rate)))].sort((a, b) => a - b);
  return rates.map((rate) => ({ rate, reps: all.flatMap((r) => r.filter((f) => f.rate === rate)) }));
}

/** The per-rate table (scales per repetition, median ratio with spread) and the latency table. */
export function formatRateSweeps(reps: readonly SuiteResult[], modes: readonly string[]): string {
  const byRate = figuresByRate(reps);
  const baselines = modes.filter((m) => m !== 'disaggregated');
  const scale = (x: number | null): string => (x === null ? '-' : String(x));
  const p90 = (xs: ReadonlyArray<number | null>): string => {
    const v = xs.filter((x): x is number => x !== null);
    return v.length === 0 ? '-' : median(v).toFixed(0);
  };
  return [
    'Tightest SLO scale per rate (each repetition, "/"-separated; lower is tighter) and how much tighter disaggregated met (median [min, max]):',
    table(
      ['rate', ...modes.map((m) => `${m} scale`), ...baselines.map((b) => `tighter vs ${b}`), ...baselines.map((b) => `>= 2x vs ${b}`)],
      byRate.map(({ rate, reps: rs }) => [
        String(rate),
        ...modes.map((m) => rs.map((f) => scale(f.tightestScale[m] ?? null)).join(' / ')),
        ...baselines.map((b) => stats(ratioStats(rs.map((f) => f.scaleRatio[b] ?? null)))),
        ...baselines.map((b) => `${rs.filter((f) => (f.scaleRatio[b]?.value ?? 0) >= 2).length} of ${rs.length}`),
      ]),
    ),
    '',
    'TTFT p90 / TPOT p90 per rate (ms, median over repetitions):',
    table(
      ['rate', ...modes],
      byRate.map(({ rate, reps: rs }) => [String(rate), ...modes.map((m) => `${p90(rs.map((f) => f.ttftP90Ms[m] ?? null))} / ${p90(rs.map((f) => f.tpotP90Ms[m] ?? null))}`)]),
    ),
  ].join('\n') + '\n';
}

/** Plain-data form: per rate, every repetition's figures and the ratio statistics. */
export function rateSweepJson(reps: readonly SuiteResult[], baselines: readonly string[]): unknown {
  return figuresByRate(reps).map(({ rate, reps: rs }) => ({
    rate,
    repetitions: rs,
    tighterSlo: Object.fromEntries(baselines.map((b) => [b, ratioStats(rs.map((f) => f.scaleRatio[b] ?? null))])),
  }));
}

/** How much tighter an SLO disaggregated met against each baseline, vs the offered rate (median, bars: min..max). */
export function tighterSloChart(reps: readonly SuiteResult[], baselines: readonly string[], subtitle: string): string {
  const byRate = figuresByRate(reps);
  const series = baselines.map((b) => {
    const points = byRate.flatMap(({ rate, reps: rs }) => {
      const s = ratioStats(rs.map((f) => f.scaleRatio[b] ?? null));
      return s === null ? [] : [{ rate, s }];
    });
    return {
      name: `vs ${b} (median of ${reps.length})`,
      points: points.map((p) => [p.rate, p.s.median] as const),
      ranges: points.map((p) => [p.rate, p.s.min, p.s.max] as const),
    };
  });
  return renderLineChart({
    title: 'How much tighter an SLO disaggregated meets, by offered rate',
    subtitle: `${subtitle}; baseline tightest scale / disaggregated tightest scale; bars: min..max over repetitions`,
    xLabel: 'offered rate (requests/s)', yLabel: 'tighter SLO (x)', series,
    refLines: [{ axis: 'y', value: 2, label: '2x goal' }, { axis: 'y', value: 1, label: 'even' }],
  });
}
