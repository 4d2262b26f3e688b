/**
 * Per-request timing: a {@link RequestTimer} records the events of one request's life, and
 * {@link requestMetrics} derives TTFT, TPOT, ITL, JCT, queue time and KV transfer time from the
 * record, exactly as DESIGN.md "Measuring" defines them.
 *
 * Invariants: timestamps are milliseconds on ONE clock for the whole record and never go backwards
 * in event order (arrival <= prefill start <= first token <= ... <= last token <= finish).
 * NOTE: `performance.now()` has a different origin in every worker thread; actors must report
 * `performance.timeOrigin + performance.now()` (or the engine's shared clock) so their times compare.
 */
import { EngineError } from './errors.js';

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

/** Raised when timing events arrive out of order or after the request finished (a wiring bug). */
export class TimingOrderError extends EngineError {
  constructor(requestId: string, problem: string) {
    super(`timing of request "${requestId}": ${problem}`);
  }
}

/** Records one request's events as they happen. Throws {@link TimingOrderError} on misuse. */
export class RequestTimer {
  readonly #r: RequestTimingRecord;
  #latestMs: number;

  constructor(opts: { id: string; arrivalMs: number; promptTokens: number }) {
    this.#r = {
      id: opts.id,
      promptTokens: opts.promptTokens,
      arrivalMs: opts.arrivalMs,
      prefillStartMs: null,
      tokenTimesMs: [],
      kvTransferStartMs: null,
      kvTransferEndMs: null,
      finishMs: null,
      finishReason: null,
    };
    this.#latestMs = opts.arrivalMs;
  }

  /** Queueing ended and prefill began. A preempted-and-recomputed request keeps the first time. */
  prefillStarted(atMs: number): void {
    this.#advance('prefill start', atMs);
    if (this.#r.prefillStartMs === null) this.#r.prefillStartMs = atMs;
  }

  /** One output token was produced. */
  token(atMs: number): void {
    this.#advance('token', atMs);
    this.#r.tokenTimesMs.push(atMs);
  }

  /** The KV handoff to decode began. */
  kvTransferStarted(atMs: number): void {
    this.#advance('KV transfer start', atMs);
    this.#r.kvTransferStartMs = atMs;
    this.#r.kvTransferEndMs = null;
  }

  /** The KV handoff to decode completed. */
  kvTransferEnded(atMs: number): void {
    if (this.#r.kvTransferStartMs === null) throw new TimingOrderError(this.#r.id, 'KV transfer ended before it started');
    this.#advance('KV transfer end', atMs);
    this.#r.kvTransferEndMs = atMs;
  }

  /** The request ended; no further events are accepted. */
  finish(reason: FinishReason, atMs: number): void {
    this.#advance('finish', atMs);
    this.#r.finishMs = atMs;
    this.#r.finishReason = reason;
  }

  /** True once {@link finish} was called. */
  get finished(): boolean {
    return this.#r.finishReason !== null;
  }

  /** A copy of the record so far. */
  record(): RequestTimingRecord {
    return { ...this.#r, tokenTimesMs: [...this.#r.tokenTimesMs] };
  }

  /** Metrics of the record so far. */
  metrics(): RequestMetrics {
    return requestMetrics(this.#r);
  }

  #advance(event: string, atMs: number): void {
    if (this.#r.finishReason !== null) {
      throw new TimingOrderError(this.#r.id, `${event} at ${atMs} ms after the request finished`);
    }
    if (!Number.isFinite(atMs) || atMs < this.#latestMs) {
      throw new TimingOrderError(this.#r.id, `${event} at ${atMs} ms is before the previous event (${this.#latestMs} ms)`);
    }
    this.#latestMs = atMs;
  }
}
