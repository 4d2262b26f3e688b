/**
 * Small statistics helpers of the actors benchmark (percentiles and medians over samples).
 */

/** The q-quantile (0..1) of `samples` by nearest rank; NaN when empty. */
export function quantile(samples: readonly number[], q: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[index] as number;
}

/** The median of `samples`. */
export function median(samples: readonly number[]): number {
  return quantile(samples, 0.5);
}

/** Latency summary in microseconds. */
export interface LatencySummary {
  readonly p50Us: number;
  readonly p99Us: number;
}

/** p50/p99 of durations given in milliseconds, as microseconds. */
export function summarizeLatency(durationsMs: readonly number[]): LatencySummary {
  return { p50Us: quantile(durationsMs, 0.5) * 1_000, p99Us: quantile(durationsMs, 0.99) * 1_000 };
}
