/**
 * Per-request timing: the record of one request's life ({@link RequestTimingRecord}, kept by the
 * engine's active request) and {@link requestMetrics}, which derives TTFT, TPOT, ITL, JCT, queue
 * time and KV transfer time from it as docs/metrics.md defines them.
 *
 * Invariants: timestamps are milliseconds on ONE clock for the whole record and never go backwards
 * in event order (arrival <= prefill start <= first token <= ... <= last token <= finish).
 * NOTE: `performance.now()` has a different origin in every worker thread; actors must report
 * `performance.timeOrigin + performance.now()` (or the engine's shared clock) so their times compare.
 */

/** Why a request ended. */
export type FinishReason = 'length' | 'stop' | 'abort' | 'error';

/** Everything recorded about one request; plain data (crosses threads, goes into JSON output). */
export interface RequestTimingRecord {
  id: string;
  promptTokens: number;
  arrivalMs: number;
  /** When prefill started (end of queueing); null if it never started. */
  prefillStartMs: number | null;
  /** Time of each output token, in order; the first is the first token. */
  tokenTimesMs: number[];
  kvTransferStartMs: number | null;
  kvTransferEndMs: number | null;
  finishMs: number | null;
  finishReason: FinishReason | null;
}

/** Metrics derived from one {@link RequestTimingRecord}; null where undefined for this request. */
export interface RequestMetrics {
  id: string;
  outputTokens: number;
  /** first token − arrival. */
  ttftMs: number | null;
  /** (last token − first token) / (outputTokens − 1); null for fewer than 2 tokens. */
  tpotMs: number | null;
  /** Gaps between consecutive tokens (outputTokens − 1 entries). */
  itlMs: number[];
  /** last token − arrival. */
  jctMs: number | null;
  /** prefill start − arrival. */
  queueMs: number | null;
  /** KV transfer end − start. */
  kvTransferMs: number | null;
  finishReason: FinishReason | null;
}

/** Derives per-request metrics from a record (pure). */
export function requestMetrics(r: RequestTimingRecord): RequestMetrics {
  const t = r.tokenTimesMs;
  const n = t.length;
  const first = n > 0 ? t[0] : null;
  const last = n > 0 ? t[n - 1] : null;
  const itlMs: number[] = [];
  for (let i = 1; i < n; i++) itlMs.push(t[i] - t[i - 1]);
  return {
    id: r.id,
    outputTokens: n,
    ttftMs: first === null ? null : first - r.arrivalMs,
    tpotMs: n >= 2 && first !== null && last !== null ? (last - first) / (n - 1) : null,
    itlMs,
    jctMs: last === null ? null : last - r.arrivalMs,
    queueMs: r.prefillStartMs === null ? null : r.prefillStartMs - r.arrivalMs,
    kvTransferMs:
      r.kvTransferStartMs === null || r.kvTransferEndMs === null ? null : r.kvTransferEndMs - r.kvTransferStartMs,
    finishReason: r.finishReason,
  };
}
