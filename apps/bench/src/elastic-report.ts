/**
 * What the elastic bench reports from a run's records: SLO attainment in time bins (by arrival),
 * goodput (requests meeting both targets per second of offered load), the same per phase, and the
 * charts — attainment over time per configuration with the phase boundaries, and prefill
 * instances over time.
 *
 * Invariants: pure (records in, numbers and SVG text out); a bin with no arrival is left out of
 * the series rather than drawn as 0; times are seconds from the start of the run.
 */
import type { SloTargets } from '@baton/engine';
import { renderLineChart, type RefLine } from './charts.js';
import { attainment, type BenchRecord } from './runner.js';
import type { PhasedWorkload } from './elastic-workload.js';

/** One configuration's run, as the report needs it. */
export interface ElasticRun {
  name: string;
  records: readonly BenchRecord[];
  /** [seconds from start, prefill instances] samples (constant for a fixed split). */
  prefillOverTime: ReadonlyArray<readonly [number, number]>;
}

/** Attainment per `binMs` bin of arrival time: [bin start s, attainment]. */
export function attainmentOverTime(records: readonly BenchRecord[], w: PhasedWorkload, slo: SloTargets, binMs: number): Array<[number, number]> {
  const bins = new Map<number, BenchRecord[]>();
  for (const r of records) {
    const bin = Math.floor(w.requests[r.index].arrivalMs / binMs);
    bins.set(bin, [...(bins.get(bin) ?? []), r]);
  }
  return [...bins.entries()].sort((a, b) => a[0] - b[0]).map(([bin, rs]) => [(bin * binMs) / 1000, attainment(rs, slo)]);
}

/** Requests that finished within both targets, per second of the offered span. */
export function goodput(records: readonly BenchRecord[], slo: SloTargets, spanMs: number): number {
  return (attainment(records, slo) * records.length) / (spanMs / 1000);
}

/** Goodput of each phase of `w` (the records of that phase over its duration). */
export function goodputByPhase(records: readonly BenchRecord[], w: PhasedWorkload, slo: SloTargets): number[] {
  return w.startsMs.map((start, k) => {
    const end = k + 1 < w.startsMs.length ? w.startsMs[k + 1] : w.totalMs;
    return goodput(records.filter((r) => w.phaseOf[r.index] === k), slo, end - start);
  });
}

/** Phase boundaries as vertical reference lines. */
function boundaries(w: PhasedWorkload, labels: readonly string[]): RefLine[] {
  return w.startsMs.slice(1).map((s, i) => ({ axis: 'x' as const, value: s / 1000, label: labels[i + 1] ?? '' }));
}

/** SLO attainment over time, one line per configuration, phase boundaries dashed. */
export function attainmentTimeChart(runs: readonly ElasticRun[], w: PhasedWorkload, slo: SloTargets, binMs: number, phaseLabels: readonly string[], subtitle: string): string {
  return renderLineChart({
    title: 'SLO attainment over time, shifting workload',
    subtitle,
    xLabel: `arrival time (s; ${binMs / 1000} s bins)`,
    yLabel: 'SLO attainment (%)',
    yRange: [0, 100],
    series: runs.map((r) => ({ name: r.name, points: attainmentOverTime(r.records, w, slo, binMs).map(([t, a]) => [t, a * 100] as const) })),
    refLines: boundaries(w, phaseLabels),
  });
}

/** Prefill instances over time per configuration (the rest serve decode). */
export function rolesTimeChart(runs: readonly ElasticRun[], w: PhasedWorkload, phaseLabels: readonly string[], subtitle: string): string {
  return renderLineChart({
    title: 'Instances serving prefill over time',
    subtitle,
    xLabel: 'time (s)',
    yLabel: 'prefill instances',
    series: runs.map((r) => ({ name: r.name, points: r.prefillOverTime, step: true })),
    refLines: boundaries(w, phaseLabels),
  });
}
