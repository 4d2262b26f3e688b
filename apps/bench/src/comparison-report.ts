/**
 * Report of a comparison: the SLO and the uncontended reference, the split and chunk trials, one
 * row per repetition (goodput and tightest SLO scale per mode, and the ratios against
 * disaggregated), the median ratio with its spread, and the admission check; plus its JSON form
 * and the roofline chart.
 *
 * Invariants: nothing here measures. A ratio whose baseline failed even the loosest point is a
 * lower bound (printed with ">", and counted at the bound in medians); a mode whose run at the
 * reference rate stopped early has no SLO-scale sweep, and its scale ratio is unknown (null), not a
 * bound.
 */
import type { AdmissionCheck } from './admission-check.js';
import { renderLineChart } from './charts.js';
import type { ComparisonResult, Trial } from './comparison.js';
import { DEFAULT_SLO_SCALES } from './goodput.js';
import type { Roofline } from './roofline.js';
import type { SuiteResult } from './bench-suite.js';
import { table } from './text-table.js';

/** A ratio, possibly a lower bound. */
export interface Ratio {
  value: number;
  /** True when the baseline had no value (the ratio is at least `value`). */
  bound: boolean;
}

/** One repetition's figures. */
export interface RepFigures {
  goodput: Record<string, number | null>;
  /** Lowest rate measured per mode (a null goodput is "below" it). */
  lowestRate: Record<string, number>;
  tightestScale: Record<string, number | null>;
  /** Whether the mode has an SLO-scale sweep at the reference rate (false: its run there stopped early or is missing). */
  swept: Record<string, boolean>;
  /** Baseline goodput / ... : disaggregated goodput / baseline goodput, per baseline mode. */
  goodputRatio: Record<string, Ratio | null>;
  /** Baseline tightest scale / disaggregated tightest scale: how much tighter an SLO disaggregated meets. */
  scaleRatio: Record<string, Ratio | null>;
}

const LOOSEST = Math.max(...DEFAULT_SLO_SCALES);

/** Figures of one repetition. */
export function repFigures(rep: SuiteResult): RepFigures {
  const goodput: RepFigures['goodput'] = {};
  const lowestRate: RepFigures['lowestRate'] = {};
  const tightestScale: RepFigures['tightestScale'] = {};
  const swept: RepFigures['swept'] = {};
  for (const m of rep.modes) {
    goodput[m.mode] = m.goodput;
    lowestRate[m.mode] = Math.min(...m.points.map((p) => p.rate));
    const sweep = rep.sweeps.find((s) => s.mode === m.mode)?.sweep ?? null;
    swept[m.mode] = sweep !== null;
    tightestScale[m.mode] = sweep?.tightestScale ?? null;
  }
  const goodputRatio: RepFigures['goodputRatio'] = {};
  const scaleRatio: RepFigures['scaleRatio'] = {};
  const d = goodput['disaggregated'];
  const ds = tightestScale['disaggregated'];
  for (const m of rep.modes) {
    if (m.mode === 'disaggregated' || !('disaggregated' in goodput)) continue;
    const b = goodput[m.mode];
    goodputRatio[m.mode] = d === null || d === undefined ? null : b === null ? { value: d / lowestRate[m.mode], bound: true } : { value: d / b, bound: false };
    // NOTE: a goodput search stops a failing run early; such a run has no sweep, which says nothing about the loosest scale.
    scaleRatio[m.mode] = swept[m.mode] && swept['disaggregated'] ? scaleRatioOf(ds, tightestScale[m.mode]) : null;
  }
  return { goodput, lowestRate, tightestScale, swept, goodputRatio, scaleRatio };
}

/**
 * How much tighter an SLO disaggregated met: baseline tightest scale / disaggregated tightest
 * scale; a lower bound when the baseline failed even the loosest scale; null when disaggregated did.
 */
export function scaleRatioOf(disaggregated: number | null | undefined, baseline: number | null): Ratio | null {
  if (disaggregated === null || disaggregated === undefined) return null;
  return baseline === null ? { value: (LOOSEST * 1.0001) / disaggregated, bound: true } : { value: baseline / disaggregated, bound: false };
}

/** Median and spread of one ratio over repetitions (null when some repetition has none). */
export function ratioStats(values: ReadonlyArray<Ratio | null>): { median: number; min: number; max: number; bound: boolean } | null {
  if (values.length === 0 || values.some((v) => v === null)) return null;
  const xs = (values as Ratio[]).map((v) => v.value).sort((a, b) => a - b);
  const h = Math.floor(xs.length / 2);
  return { median: xs.length % 2 === 1 ? xs[h] : (xs[h - 1] + xs[h]) / 2, min: xs[0], max: xs[xs.length - 1], bound: (values as Ratio[]).some((v) => v.bound) };
}

/** The comparison's tables. */
export function formatComparison(result: ComparisonResult): string {
  const lines: string[] = [`SLO: ${result.slo.label}`];
  if (result.reference !== null) {
    lines.push(`Uncontended (one request at a time on ${result.referenceRig}): TPOT ${result.reference.tpotMs.toFixed(2)} ms; TTFT ${result.reference.ttft.map((p) => `${p.ttftMs.toFixed(1)} ms @ ${p.promptTokens} tokens`).join(', ')}`);
  }
  lines.push('');
  for (const [name, trials] of [['P:D split', result.splitTrials], ['chunk size', result.chunkTrials]] as const) {
    if (trials.length === 0) continue;
    lines.push(`${name} trials at ${result.tuneRate} req/s (best kept: tightest SLO scale, then attainment):`);
    lines.push(table(['candidate', 'attainment', 'tightest scale', 'TTFT p90 ms', 'TPOT p90 ms', ''], trials.map(trialRow)));
    lines.push('');
  }
  const figures = result.reps.map(repFigures);
  const modes = result.rigs.map((r) => r.mode);
  const baselines = modes.filter((m) => m !== 'disaggregated');
  lines.push(`Repetitions (${result.rigs.map((r) => r.label).join(' | ')}; modes interleaved in each):`);
  lines.push(table(
    ['rep', ...modes.map((m) => `${m} goodput`), ...modes.map((m) => `${m} scale`), ...baselines.flatMap((b) => [`goodput vs ${b}`, `tighter SLO vs ${b}`])],
    figures.map((f, i) => [
      String(i + 1),
      ...modes.map((m) => (f.goodput[m] === null ? `< ${fmt(f.lowestRate[m])}` : fmt(f.goodput[m] ?? NaN))),
      ...modes.map((m) => (!f.swept[m] ? 'n/a (stopped early)' : f.tightestScale[m] === null ? `> ${LOOSEST}` : `${f.tightestScale[m]}`)),
      ...baselines.flatMap((b) => [ratio(f.goodputRatio[b] ?? null), ratio(f.scaleRatio[b] ?? null)]),
    ]),
  ));
  if (modes.includes('disaggregated')) {
    for (const b of baselines) {
      const g = ratioStats(figures.map((f) => f.goodputRatio[b] ?? null));
      const s = ratioStats(figures.map((f) => f.scaleRatio[b] ?? null));
      lines.push(`disaggregated vs ${b}: goodput ${stats(g)}; SLO met ${stats(s)} tighter (median, [min, max] over ${figures.length} repetitions)`);
    }
  }
  if (result.admission !== null) lines.push('', formatAdmission(result.admission));
  return lines.join('\n') + '\n';
}

function formatAdmission(checks: readonly AdmissionCheck[]): string {
  const t = checks[0]?.targets;
  const rows = checks.flatMap((c, i) => c.rates.map((r) => [
    String(i + 1), fmt(r.rate), String(r.requests), String(r.rejected), String(r.rightlyRejected), r.precision === null ? '-' : `${(r.precision * 100).toFixed(0)}%`,
    String(r.missedButAdmitted), `${(r.attainmentOn * 100).toFixed(0)}%`, `${(r.attainmentOff * 100).toFixed(0)}%${r.stoppedEarly ? ' (stopped early)' : ''}`,
  ]));
  const verdicts = checks.map((c, i) => `rep ${i + 1}: goodput on ${c.goodputOn ?? '-'} vs off ${c.goodputOff ?? '-'} ${c.ok ? 'OK (on >= off)' : 'FAILS (on < off)'}`);
  return [
    `Admission check (disaggregated, early rejection on vs off, same arrivals; targets TTFT ${t === undefined ? '-' : t.ttftMs.toFixed(1)} ms / TPOT ${t === undefined ? '-' : t.tpotMs.toFixed(2)} ms):`,
    table(['rep', 'rate', 'requests', 'rejected', 'rightly (missed when off)', 'precision', 'missed, admitted', 'attain on', 'attain off'], rows),
    ...verdicts,
  ].join('\n');
}

/** Plain-data form of the comparison (summary.json's `comparison`). */
export function comparisonJson(result: ComparisonResult, rooflines: readonly Roofline[]): unknown {
  const figures = result.reps.map(repFigures);
  const baselines = result.rigs.map((r) => r.mode).filter((m) => m !== 'disaggregated');
  return {
    slo: { label: result.slo.label, nominal: result.slo.nominal },
    reference: result.reference, referenceRig: result.referenceRig, tuneRate: result.tuneRate,
    splitTrials: result.splitTrials, chunkTrials: result.chunkTrials, rigs: result.rigs,
    repetitions: figures,
    ratios: Object.fromEntries(baselines.map((b) => [b, {
      goodput: ratioStats(figures.map((f) => f.goodputRatio[b] ?? null)),
      tighterSlo: ratioStats(figures.map((f) => f.scaleRatio[b] ?? null)),
    }])),
    admission: result.admission,
    roofline: rooflines,
  };
}

/** Decode step time against batch size, one line per backend, and the ideal memory-bound line. */
export function rooflineChart(rooflines: readonly Roofline[], subtitle: string): string {
  return renderLineChart({
    title: 'Decode step vs batch (roofline)', subtitle: `${subtitle}; flat = memory-bound, proportional = compute-bound`,
    xLabel: 'decode batch (log)', yLabel: 'step time (ms)', xLog: true,
    series: rooflines.flatMap((r) => {
      const one = r.decode.find((d) => d.batch === 1)?.stepMs ?? r.decode[0].stepMs;
      return [
        { name: `${r.model} ${r.backend}`, points: r.decode.map((d) => [d.batch, d.stepMs] as const) },
        { name: `${r.backend}: batch x step(1)`, points: r.decode.map((d) => [d.batch, one * d.batch] as const) },
      ];
    }),
  });
}

function trialRow(t: Trial): string[] {
  return [t.label, `${(t.attainment * 100).toFixed(0)}%`, t.tightestScale === null ? `> ${LOOSEST} or n/a` : String(t.tightestScale), ms(t.ttftP90Ms), ms(t.tpotP90Ms), t.chosen ? 'chosen' : ''];
}

function ratio(r: Ratio | null): string {
  return r === null ? '-' : `${r.bound ? '> ' : ''}${r.value.toFixed(2)}x`;
}

/** A ratio's median and spread as text ("2.10x [1.50, 3.00]"). */
export function stats(s: ReturnType<typeof ratioStats>): string {
  return s === null ? 'n/a (no value in some repetition: disaggregated failed it, or a run stopped early)' : `${s.bound ? '>= ' : ''}${s.median.toFixed(2)}x [${s.min.toFixed(2)}, ${s.max.toFixed(2)}]`;
}

function fmt(x: number): string {
  return Number(x.toPrecision(4)).toString();
}

function ms(x: number | null): string {
  return x === null ? '-' : x.toFixed(x < 10 ? 2 : 0);
}
