/**
 * Bench report: the tables printed at the end of a run, the JSON summary, and the output folder
 * (charts, raw per-request records, summary).
 *
 * Invariants: nothing here measures; it only formats a {@link SuiteResult}. Ratios are against
 * the colocated mode of the same run (null when it is absent or had no goodput).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { requestMetrics, type SloTargets } from '@baton/engine';
import type { SuiteResult } from './bench-suite.js';
import { attainmentChart, cdfChart, renderLineChart } from './charts.js';

/** Context printed with the results. */
export interface ReportContext {
  command: string;
  date: string;
  workload: string;
  slo: SloTargets;
  requestsPerRate: number;
  loadAverage: readonly number[];
}

/** Plain-data summary (what `--json` writes). */
export function summaryJson(result: SuiteResult, ctx: ReportContext): unknown {
  return {
    ...ctx,
    referenceRate: result.referenceRate,
    modes: result.modes.map((m) => ({
      mode: m.mode,
      workers: m.workers,
      goodput: m.goodput,
      goodputVsColocated: ratio(result, m.goodput),
      points: m.points,
      sloScale: result.sweeps.find((s) => s.mode === m.mode)?.sweep ?? null,
      runs: m.runs.map((r) => ({ rate: r.rate, requests: r.records.length, attainment: r.attainment, attainmentUpper: r.attainmentUpper, stoppedEarly: r.stoppedEarly, wallMs: r.wallMs, summary: r.summary, actors: r.actors })),
    })),
  };
}

/** The human-readable tables. */
export function formatTables(result: SuiteResult, ctx: ReportContext): string {
  const ref = result.referenceRate;
  const lines = [
    `baton bench — ${ctx.workload}, SLO TTFT ${ctx.slo.ttftMs} ms / TPOT ${ctx.slo.tpotMs} ms, ${requestsPerRun(result)} requests per rate, ${ctx.date}, load ${ctx.loadAverage.map((x) => x.toFixed(2)).join(' ')}`,
    '',
    table(
      ['mode', 'workers', 'goodput req/s', 'vs colocated', `TTFT p50/p90 ms @${ref ?? '-'}`, `TPOT p50/p90 ms @${ref ?? '-'}`, 'SLO scale'],
      result.modes.map((m) => {
        const run = m.runs.find((r) => r.rate === ref);
        const sweep = result.sweeps.find((s) => s.mode === m.mode)?.sweep ?? null;
        const r = ratio(result, m.goodput);
        return [
          m.mode, m.workers, m.goodput === null ? `< ${fmt(Math.min(...m.points.map((p) => p.rate)))}` : fmt(m.goodput), r === null ? '-' : `${r.toFixed(2)}x`,
          run === undefined ? '-' : `${ms(run.summary.ttftMs.p50)} / ${ms(run.summary.ttftMs.p90)}`,
          run === undefined ? '-' : `${ms(run.summary.tpotMs.p50)} / ${ms(run.summary.tpotMs.p90)}`,
          sweep === null ? 'n/a' : sweep.tightestScale === null ? '>4x' : `${sweep.tightestScale}x`,
        ];
      }),
    ),
    '',
    'SLO attainment by offered rate (req/s):',
    attainmentTable(result),
    '',
    `Actors at ${ref ?? '-'} req/s (utilization of the run, mean batch, steps, preemptions):`,
    table(
      ['mode', 'actor', 'util', 'mean batch', 'steps', 'preempt'],
      result.modes.flatMap((m) => (m.runs.find((r) => r.rate === ref)?.actors ?? []).map((a) => [
        m.mode, a.name, `${(a.utilization * 100).toFixed(0)}%`, a.meanBatchSize === null ? '-' : a.meanBatchSize.toFixed(1), String(a.steps), String(a.preemptions),
      ])),
    ),
  ];
  return lines.join('\n') + '\n';
}

/** Writes charts, records.jsonl and summary.json under `dir`; returns the files written. */
export async function writeOutputs(dir: string, result: SuiteResult, ctx: ReportContext): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const ref = result.referenceRate;
  const sub = `${ctx.workload}; SLO TTFT ${ctx.slo.ttftMs} ms, TPOT ${ctx.slo.tpotMs} ms; ${ctx.date}`;
  const atRef = result.modes.map((m) => ({ name: m.mode, records: m.runs.find((r) => r.rate === ref)?.records ?? [] }));
  const metric = (f: (r: (typeof atRef)[number]['records'][number]) => number | null) =>
    atRef.map((m) => ({ name: m.name, values: m.records.map(f).filter((x): x is number => x !== null) }));
  const files: Record<string, string> = {
    'attainment.svg': attainmentChart({ title: 'SLO attainment vs offered rate', modes: result.modes.map((m) => ({
      name: `${m.mode} (${m.workers})`,
      points: m.runs.map((r) => ({ rate: r.rate, attainment: r.attainment, ...(r.stoppedEarly ? { upper: r.attainmentUpper } : {}) })),
    })), subtitle: `${sub}\nbars with a hollow top: the run stopped early, attainment lies between the bounds` }),
    'ttft-cdf.svg': cdfChart({ title: `TTFT distribution at ${ref ?? '-'} req/s`, subtitle: sub, metric: 'TTFT', samples: metric((r) => requestMetrics(r).ttftMs), target: ctx.slo.ttftMs }),
    'tpot-cdf.svg': cdfChart({ title: `TPOT distribution at ${ref ?? '-'} req/s`, subtitle: sub, metric: 'TPOT', samples: metric((r) => requestMetrics(r).tpotMs), target: ctx.slo.tpotMs }),
    'slo-scale.svg': renderLineChart({
      title: `SLO attainment vs SLO scale at ${ref ?? '-'} req/s`, subtitle: `${sub}; scale multiplies both targets`,
      xLabel: 'SLO scale (log)', yLabel: 'SLO attainment (%)', xLog: true, yRange: [0, 100],
      series: result.sweeps.map((s) => ({ name: s.mode, points: (s.sweep?.points ?? []).map((p) => [p.scale, p.attainment * 100] as const) })),
      refLines: [{ axis: 'y', value: 90, label: '90% goal' }],
    }),
    'records.jsonl': result.modes.flatMap((m) => m.runs.flatMap((r) => r.records)).map((r) => JSON.stringify(r)).join('\n') + '\n',
    'summary.json': JSON.stringify(summaryJson(result, ctx), null, 2) + '\n',
  };
  for (const [name, body] of Object.entries(files)) await writeFile(join(dir, name), body);
  return Object.keys(files).map((f) => join(dir, f));
}

/**
 * Requests the runs sent, "N" or "min-max": a quick run caps a run's arrival span, so runs at low
 * rates send fewer than the workload holds (the workload size alone would overstate them).
 */
function requestsPerRun(result: SuiteResult): string {
  const counts = result.modes.flatMap((m) => m.runs.map((r) => r.records.length));
  if (counts.length === 0) return '0';
  const [lo, hi] = [Math.min(...counts), Math.max(...counts)];
  return lo === hi ? String(lo) : `${lo}-${hi}`;
}

function attainmentTable(result: SuiteResult): string {
  const rates = [...new Set(result.modes.flatMap((m) => m.points.map((p) => p.rate)))].sort((a, b) => a - b);
  const requestsAt = (rate: number): string =>
    String(Math.max(0, ...result.modes.flatMap((m) => m.runs.filter((r) => r.rate === rate).map((r) => r.records.length))));
  return table(
    ['rate', 'requests', ...result.modes.map((m) => m.mode)],
    rates.map((rate) => [fmt(rate), requestsAt(rate), ...result.modes.map((m) => {
      const r = m.runs.find((x) => x.rate === rate);
      if (r === undefined) return '';
      const pct = (x: number): string => `${(x * 100).toFixed(0)}%`;
      return r.stoppedEarly ? `${pct(r.attainment)}..${pct(r.attainmentUpper)} (stopped)` : pct(r.attainment);
    })]),
  );
}

function ratio(result: SuiteResult, goodput: number | null): number | null {
  const base = result.modes.find((m) => m.mode === 'colocated')?.goodput ?? null;
  return base === null || goodput === null ? null : goodput / base;
}

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const row = (r: string[]): string => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  return [row(head), row(widths.map((w) => '-'.repeat(w))), ...rows.map(row)].join('\n');
}

function fmt(x: number): string {
  return Number(x.toPrecision(4)).toString();
}

function ms(x: number | null): string {
  return x === null ? '-' : `${x.toFixed(x < 10 ? 1 : 0)}`;
}
