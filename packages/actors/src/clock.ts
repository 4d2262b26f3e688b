/**
 * The clock abstraction actors use for time and timers, so the test kit can drive time by hand.
 * `systemClock` is real time; `ManualClock` (testkit) advances only when told.
 */

/** Opaque id of a timer created through a `Clock`. */
export type TimerHandle = number & { readonly __timerHandle: unique symbol };

/** Time and timers. */
export interface Clock {
  /** Milliseconds on a monotonic scale (only differences are meaningful). */
  now(): number;
  setTimeout(callback: () => void, ms: number): TimerHandle;
  setInterval(callback: () => void, ms: number): TimerHandle;
  /** Cancels a timeout or interval; unknown or already-fired handles are ignored. */
  clearTimer(handle: TimerHandle): void;
}

let nextHandle = 1;
const live = new Map<TimerHandle, NodeJS.Timeout>();

/** The real clock: `performance.now()` and Node timers. */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout(callback, ms) {
    const handle = nextHandle++ as TimerHandle;
    live.set(
      handle,
      setTimeout(() => {
        live.delete(handle);
        callback();
      }, ms),
    );
    return handle;
  },
  setInterval(callback, ms) {
    const handle = nextHandle++ as TimerHandle;
    live.set(handle, setInterval(callback, ms));
    return handle;
  },
  clearTimer(handle) {
    const timer = live.get(handle);
    if (timer === undefined) return;
    clearTimeout(timer);
    live.delete(handle);
  },
};

/** Mints a handle for clocks implemented elsewhere in the package (the manual clock). */
export function newTimerHandle(): TimerHandle {
  return nextHandle++ as TimerHandle;
}
