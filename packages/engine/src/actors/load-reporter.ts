/**
 * LoadReporter: sends an actor's load to the scheduler without flooding its mailbox — at most one
 * report per interval unless forced (state changes the scheduler must see at once) — and keeps the
 * EWMA of step time that the scheduler's TPOT estimate uses.
 */
import type { ActorRef } from '@baton/actors';
import { engineNow } from '../clock.js';
import type { LoadReport, SchedulerMsg } from '../protocol.js';

const REPORT_INTERVAL_MS = 5;
const STEP_ALPHA = 0.2;

/** Throttled load reports to the scheduler. */
export class LoadReporter {
  #lastSent = -Infinity;
  #stepMs: number | null = null;

  constructor(private readonly scheduler: ActorRef<SchedulerMsg>) {}

  /** Folds a step time into the EWMA (null: no step ran) and returns the current estimate. */
  stepMs(sample: number | null): number | null {
    if (sample !== null) this.#stepMs = this.#stepMs === null ? sample : this.#stepMs + STEP_ALPHA * (sample - this.#stepMs);
    return this.#stepMs;
  }

  /** Sends `report` if the interval has passed or `force` is set. */
  report(report: LoadReport, force: boolean): void {
    const now = engineNow();
    if (!force && now - this.#lastSent < REPORT_INTERVAL_MS) return;
    this.#lastSent = now;
    this.scheduler.tell({ type: 'load', report });
  }
}
