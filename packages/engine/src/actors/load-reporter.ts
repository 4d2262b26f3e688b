/**
 * LoadReporter: sends an actor's load to the scheduler without flooding its mailbox — at most one
 * report per interval unless forced (state changes the scheduler must see at once) — and keeps the
 * EWMA of step time that the scheduler's TPOT estimate uses.
 * Invariant: the latest report always reaches the scheduler — a throttled one is sent when the
 * interval ends (an actor that goes idle right after a throttled report sends nothing more, and the
 * scheduler would route and reject on a stale queue forever).
 */
import type { ActorRef } from '@baton/actors';
import { engineNow } from '../clock.js';
import type { LoadReport, SchedulerMsg } from '../protocol.js';
import { REPORT_INTERVAL_MS, STEP_EWMA_ALPHA } from '../step-policy.js';

/** Throttled load reports to the scheduler. */
export class LoadReporter {
  #lastSent = -Infinity;
  #stepMs: number | null = null;
  #trailing: LoadReport | null = null;
  #timer: NodeJS.Timeout | null = null;

  constructor(private readonly scheduler: ActorRef<SchedulerMsg>) {}

  /** Folds a step time into the EWMA (null: no step ran) and returns the current estimate. */
  stepMs(sample: number | null): number | null {
    if (sample !== null) this.#stepMs = this.#stepMs === null ? sample : this.#stepMs + STEP_EWMA_ALPHA * (sample - this.#stepMs);
    return this.#stepMs;
  }

  /** Sends `report` now if the interval has passed or `force` is set, else when the interval ends. */
  report(report: LoadReport, force: boolean): void {
    const wait = REPORT_INTERVAL_MS - (engineNow() - this.#lastSent);
    if (force || wait <= 0) {
      this.#send(report);
      return;
    }
    this.#trailing = report;
    this.#timer ??= setTimeout(() => {
      this.#timer = null;
      if (this.#trailing !== null) this.#send(this.#trailing);
    }, wait);
  }

  /** Cancels a pending trailing report (actor stopping). */
  close(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#trailing = null;
  }

  #send(report: LoadReport): void {
    this.#lastSent = engineNow();
    this.#trailing = null;
    this.scheduler.tell({ type: 'load', report });
  }
}
