/**
 * `ManualClock`: a `Clock` whose time moves only when a test calls `advance`. Due timers run in
 * time order (ties in creation order); intervals re-arm themselves.
 */
import { newTimerHandle, type Clock, type TimerHandle } from '../clock.js';

interface ManualTimer {
  readonly handle: TimerHandle;
  readonly callback: () => void;
  readonly intervalMs: number | null;
  dueAt: number;
  readonly seq: number;
}

/** A clock driven by hand, for deterministic tests. */
export class ManualClock implements Clock {
  #now: number;
  #seq = 0;
  readonly #timers = new Map<TimerHandle, ManualTimer>();

  constructor(startMs = 0) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  /** Timers not yet fired or cleared. */
  get pendingTimers(): number {
    return this.#timers.size;
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    return this.#add(callback, ms, null);
  }

  setInterval(callback: () => void, ms: number): TimerHandle {
    return this.#add(callback, ms, Math.max(1, ms));
  }

  clearTimer(handle: TimerHandle): void {
    this.#timers.delete(handle);
  }

  /** Moves time forward by `ms`, running every timer that comes due, in order. */
  advance(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`advance(ms): expected a finite number >= 0, got ${ms}`);
    const target = this.#now + ms;
    for (let next = this.#next(target); next !== null; next = this.#next(target)) {
      this.#now = next.dueAt;
      if (next.intervalMs === null) this.#timers.delete(next.handle);
      else next.dueAt += next.intervalMs;
      next.callback();
    }
    this.#now = target;
  }

  #add(callback: () => void, ms: number, intervalMs: number | null): TimerHandle {
    const handle = newTimerHandle();
    this.#timers.set(handle, { handle, callback, intervalMs, dueAt: this.#now + Math.max(0, ms), seq: this.#seq++ });
    return handle;
  }

  #next(target: number): ManualTimer | null {
    let best: ManualTimer | null = null;
    for (const timer of this.#timers.values()) {
      if (timer.dueAt > target) continue;
      if (best === null || timer.dueAt < best.dueAt || (timer.dueAt === best.dueAt && timer.seq < best.seq)) best = timer;
    }
    return best;
  }
}
