/**
 * Run-level metrics: `summarize(records)` turns per-request timing records into distributions
 * (mean, p50, p90, p99) of TTFT, TPOT, ITL, JCT, queue and KV transfer time, finish-reason counts,
 * and SLO attainment as docs/metrics.md defines it.
 *
 * Percentiles here are exact over the sample (linear interpolation between order statistics, the
 * numpy default), not histogram estimates; use `Histogram` for long-running streaming metrics.
 */
import { EngineError } from './errors.js';
import type { SloTargets } from './engine-options.js';
import { requestMetrics, type FinishReason, type RequestMetrics, type RequestTimingRecord } from './request-timing.js';

/** Mean and percentiles of one metric; every field null when no request had the metric. */
export interface Distribution {
  count: number;
  mean: number | null;
  p50: number | null;
  p90: number | null;
  p99: number | null;
  min: number | null;
  max: number | null;
}

/** Summary of a set of requests. */
export interface RunSummary {
  requests: number;
  outputTokens: number;
  finishReasons: Record<FinishReason | 'unfinished', number>;
  ttftMs: Distribution;
  tpotMs: Distribution;
  /** Over every inter-token gap of every request. */
  itlMs: Distribution;
  jctMs: Distribution;
  queueMs: Distribution;
  kvTransferMs: Distribution;
  /**
   * Share of ALL summarized requests with TTFT <= target and TPOT <= target (a request with no
   * token fails; a 1-token request has no TPOT and passes that half); null without targets.
   */
  sloAttainment: number | null;
}

/** Exact percentile of ascending `sorted` (linear interpolation); null if empty. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (!(p >= 0 && p <= 100)) throw new EngineError(`percentile: p must be in [0, 100], got ${p}`);
  if (sorted.length === 0) return null;
  const pos = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** Distribution of a sample (order does not matter; the input is not modified). */
export function distribution(values: readonly number[]): Distribution {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  return {
    count: n,
    mean: n === 0 ? null : sorted.reduce((a, b) => a + b, 0) / n,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    min: n === 0 ? null : sorted[0],
    max: n === 0 ? null : sorted[n - 1],
  };
}

/** True when the request met both targets (see {@link RunSummary.sloAttainment}). */
export function meetsSlo(m: RequestMetrics, slo: SloTargets): boolean {
  return m.ttftMs !== null && m.ttftMs <= slo.ttftMs && (m.tpotMs === null || m.tpotMs <= slo.tpotMs);
}

/** Summarizes request records; pass `slo` to compute attainment. */
export function summarize(records: readonly RequestTimingRecord[], opts: { slo?: SloTargets | null } = {}): RunSummary {
  const ms = records.map(requestMetrics);
  const pick = (f: (m: RequestMetrics) => number | null): number[] =>
    ms.map(f).filter((v): v is number => v !== null);
  const finishReasons: RunSummary['finishReasons'] = { length: 0, stop: 0, abort: 0, error: 0, unfinished: 0 };
  for (const m of ms) finishReasons[m.finishReason ?? 'unfinished']++;
  const slo = opts.slo ?? null;
  return {
    requests: ms.length,
    outputTokens: ms.reduce((a, m) => a + m.outputTokens, 0),
    finishReasons,
    ttftMs: distribution(pick((m) => m.ttftMs)),
    tpotMs: distribution(pick((m) => m.tpotMs)),
    itlMs: distribution(ms.flatMap((m) => m.itlMs)),
    jctMs: distribution(pick((m) => m.jctMs)),
    queueMs: distribution(pick((m) => m.queueMs)),
    kvTransferMs: distribution(pick((m) => m.kvTransferMs)),
    sloAttainment:
      slo === null || ms.length === 0 ? null : ms.filter((m) => meetsSlo(m, slo)).length / ms.length,
  };
}
