/**
 * What the engine keeps about finished requests, and the drain step of its `close`: a count of completed requests plus the most recent timing records
 * (bounded), summarised for `stats()`; and "wait for in-flight requests until a deadline, then
 * abort what is left".
 */
import type { ActiveRequest } from './active-request.js';
import { engineNow } from './clock.js';
import { summarize, type RunSummary } from './metrics.js';
import type { RequestTimingRecord } from './request-timing.js';
import type { SloTargets } from './engine-options.js';

/** Timing records kept for stats summaries (the oldest are dropped beyond this). */
const KEPT_RECORDS = 10_000;
/** How often the drain looks whether every request has ended. */
const DRAIN_POLL_MS = 10;

/** Completed requests: their count, and the timing records of the most recent ones. */
export class FinishedRequests {
  #completed = 0;
  readonly #records: RequestTimingRecord[] = [];

  /** Requests that completed (with a result). */
  get completed(): number {
    return this.#completed;
  }

  /** Records one completed request. */
  add(record: RequestTimingRecord): void {
    this.#completed += 1;
    this.#records.push(record);
    if (this.#records.length > KEPT_RECORDS) this.#records.shift();
  }

  /** Latency and SLO summary of the kept records. */
  summary(slo: SloTargets | null): RunSummary {
    return summarize(this.#records, { slo });
  }
}

/** Waits until `pending()` is empty or `deadlineMs` passed, then aborts whatever is still pending. */
export async function drainThenAbort(pending: () => readonly ActiveRequest[], deadlineMs: number): Promise<void> {
  const deadline = engineNow() + deadlineMs;
  while (pending().length > 0 && engineNow() < deadline) await new Promise((r) => setTimeout(r, DRAIN_POLL_MS));
  for (const active of pending()) active.complete('abort', null, true);
}
