/**
 * `eventually`: the one polling helper of the cross-thread and cross-process tests. Work in other
 * threads and processes (actor restarts, KV blocks freed after an abort, a server saying it is
 * shutting down) finishes at a moment the test cannot know, so the test polls a condition until it
 * holds. Invariants: the probe is never called again after it passed or after the deadline; a
 * timeout throws an error naming what was awaited and the last value seen, never returns quietly.
 */

/** Options of {@link eventually}. */
export interface EventuallyOptions<T> {
  /** When the probed value is good enough; default: the value is truthy. */
  until?: (value: T) => boolean;
  /** Give up after this long (real time). Default 10 000 ms. */
  timeoutMs?: number;
  /** Pause between probes. Default 20 ms. */
  intervalMs?: number;
  /** What is awaited, for the timeout message. */
  what?: string;
}

/** Thrown when the condition did not hold in time. */
export class EventuallyTimeoutError extends Error {
  constructor(what: string, timeoutMs: number, last: unknown) {
    super(`${what}: not reached within ${timeoutMs} ms (last value: ${describe(last)})`);
    this.name = 'EventuallyTimeoutError';
  }
}

/**
 * Calls `probe` until its value passes `until` (default: truthy) and returns that value.
 * @throws {EventuallyTimeoutError} after `timeoutMs`.
 */
export async function eventually<T>(probe: () => T | Promise<T>, options: EventuallyOptions<T> = {}): Promise<T> {
  const until = options.until ?? ((value: T) => Boolean(value));
  const timeoutMs = options.timeoutMs ?? 10_000;
  const intervalMs = options.intervalMs ?? 20;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (until(value)) return value;
    if (Date.now() > deadline) throw new EventuallyTimeoutError(options.what ?? 'condition', timeoutMs, value);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

function describe(value: unknown): string {
  try {
    const text = JSON.stringify(value) ?? String(value);
    return text.length > 300 ? `${text.slice(0, 300)}…` : text;
  } catch {
    return String(value);
  }
}
