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
