/**
 * The engine's process-wide clock. NOTE: `performance.now()` has a different origin in every
 * worker thread; adding `performance.timeOrigin` puts every thread's stamps on one timeline
 * (epoch milliseconds with sub-millisecond resolution).
 */

/** Milliseconds on the clock every thread of the process shares. */
export function engineNow(): number {
  return performance.timeOrigin + performance.now();
}
