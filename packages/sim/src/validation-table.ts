/**
 * The side-by-side table of `sim:validate`: real vs simulated TTFT and TPOT percentiles (with the
 * relative error) and SLO attainment (with the difference in percentage points), per workload,
 * mode and rate.
 */
import type { SloTargets } from '@baton/engine';

/** The figures compared. */
export interface ValidationFigures {
  ttftP50: number | null;
  ttftP90: number | null;
  tpotP50: number | null;
  tpotP90: number | null;
  attainment: number;
  /** Attainment at twice both targets. */
  attainment2x: number;
}

/** One compared run. */
export interface ValidationRow {
  workload: string;
  mode: string;
  rate: number;
  /** Requests in the run. */
  count?: number;
  slo: SloTargets;
  real: ValidationFigures;
  sim: ValidationFigures;
}

/** Relative error of `sim` against `real` in percent; null when either is missing. */
export function relativeError(sim: number | null, real: number | null): number | null {
  if (sim === null || real === null || real === 0) return null;
  return ((sim - real) / real) * 100;
}

/** Formats rows as a Markdown table. */
export function formatValidation(rows: readonly ValidationRow[]): string {
  const head = ['workload', 'SLO ms', 'mode', 'rate', 'TTFT p50 real/sim', 'TTFT p90 real/sim', 'TPOT p50 real/sim', 'TPOT p90 real/sim', 'attain real/sim (Δpp)', 'at 2x SLO real/sim (Δpp)'];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const r of rows) {
    lines.push(`| ${[
      r.workload,
      `${r.slo.ttftMs}/${r.slo.tpotMs}`,
      r.mode,
      String(r.rate),
      pair(r.real.ttftP50, r.sim.ttftP50, 0),
      pair(r.real.ttftP90, r.sim.ttftP90, 0),
      pair(r.real.tpotP50, r.sim.tpotP50, 2),
      pair(r.real.tpotP90, r.sim.tpotP90, 2),
      pp(r.real.attainment, r.sim.attainment),
      pp(r.real.attainment2x, r.sim.attainment2x),
    ].join(' | ')} |`);
  }
  return lines.join('\n');
}

function pair(real: number | null, sim: number | null, digits: number): string {
  const e = relativeError(sim, real);
  const f = (x: number | null): string => (x === null ? '-' : x.toFixed(digits));
  return `${f(real)} / ${f(sim)}${e === null ? '' : ` (${e >= 0 ? '+' : ''}${e.toFixed(0)}%)`}`;
}

function pp(real: number, sim: number): string {
  const d = (sim - real) * 100;
  return `${(real * 100).toFixed(0)}% / ${(sim * 100).toFixed(0)}% (${d >= 0 ? '+' : ''}${d.toFixed(0)})`;
}

/** How close a set of rows came, over all rows and over those below saturation. */
export interface ValidationScore {
  rows: number;
  /** Median absolute relative error (%) of TTFT p50, TTFT p90, TPOT p50, TPOT p90. */
  medianAbsErrorPct: { ttftP50: number | null; ttftP90: number | null; tpotP50: number | null; tpotP90: number | null };
  /** Percentiles within 15% of the real ones, of those compared (4 per row). */
  percentilesWithin15: number;
  percentiles: number;
  /** Rows whose attainment is within 5 percentage points. */
  attainmentWithin5: number;
}

/** A real attainment at least this high counts as below saturation. */
export const BELOW_SATURATION = 0.5;

/** Scores `rows` against the goal (every percentile within 15%, attainment within 5 points). */
export function scoreValidation(rows: readonly ValidationRow[]): ValidationScore {
  const keys = ['ttftP50', 'ttftP90', 'tpotP50', 'tpotP90'] as const;
  let within = 0;
  let compared = 0;
  const med = {} as ValidationScore['medianAbsErrorPct'];
  for (const k of keys) {
    const errs: number[] = [];
    for (const r of rows) {
      const e = relativeError(r.sim[k], r.real[k]);
      if (e === null) continue;
      errs.push(Math.abs(e));
      compared++;
      if (Math.abs(e) <= 15) within++;
    }
    errs.sort((a, b) => a - b);
    const n = errs.length;
    med[k] = n === 0 ? null : n % 2 === 1 ? errs[n >> 1] : (errs[n / 2 - 1] + errs[n / 2]) / 2;
  }
  const attainmentWithin5 = rows.filter((r) => Math.abs(r.sim.attainment - r.real.attainment) * 100 <= 5).length;
  return { rows: rows.length, medianAbsErrorPct: med, percentilesWithin15: within, percentiles: compared, attainmentWithin5 };
}

/** One line per score: all rows, then those below saturation (real attainment >= 50%). */
export function formatValidationScore(rows: readonly ValidationRow[]): string {
  const line = (label: string, s: ValidationScore): string => {
    const m = s.medianAbsErrorPct;
    const f = (x: number | null): string => (x === null ? '-' : `${x.toFixed(0)}%`);
    return `${label}: median abs error TTFT p50 / p90 ${f(m.ttftP50)} / ${f(m.ttftP90)}, TPOT p50 / p90 ${f(m.tpotP50)} / ${f(m.tpotP90)}; percentiles within 15%: ${s.percentilesWithin15} / ${s.percentiles}; attainment within 5 pp: ${s.attainmentWithin5} / ${s.rows}`;
  };
  const below = rows.filter((r) => r.real.attainment >= BELOW_SATURATION);
  return [line(`all ${rows.length} rows`, scoreValidation(rows)), line(`${below.length} rows below saturation (real attainment >= ${BELOW_SATURATION * 100}%)`, scoreValidation(below))].join('\n');
}
