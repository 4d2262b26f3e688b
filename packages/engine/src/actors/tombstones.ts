/**
 * Tombstones: ids of requests aborted before they reached this actor. Messages from different
 * senders are not ordered (an abort from the scheduler can overtake a handoff from a prefill
 * actor), so an actor remembers recent aborts and drops the request when it shows up.
 * Invariant: bounded — the oldest entries are forgotten first.
 */

const DEFAULT_CAPACITY = 4096;

/** A bounded set of aborted request ids. */
export class Tombstones {
  readonly #ids = new Set<string>();

  constructor(private readonly capacity = DEFAULT_CAPACITY) {}

  add(requestId: string): void {
    this.#ids.add(requestId);
    if (this.#ids.size > this.capacity) {
      const oldest = this.#ids.values().next();
      if (oldest.done !== true) this.#ids.delete(oldest.value);
    }
  }

  /** True (and forgets it) when `requestId` was aborted. */
  take(requestId: string): boolean {
    return this.#ids.delete(requestId);
  }
}
