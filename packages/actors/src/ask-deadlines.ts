/**
 * Ask timeouts without a timer per ask: asks with the same timeout form a queue (their deadlines
 * are then in order), and each queue keeps one timer armed for its oldest deadline.
 * Invariants: a deadline fires at most once and never after `cancel`; settled deadlines at the
 * head of a queue are dropped at once; a queue with nothing pending keeps its timer unref'd (it
 * keeps nothing alive, and fires at most once more, finding nothing), so back-to-back asks do not
 * arm and clear a timer each; `releaseIdleDeadlines()` clears the timers of empty queues.
 */
import { Deque } from './deque.js';

/** One armed timeout; `cancel` it when the ask settles. */
export interface Deadline {
  cancel(): void;
}

interface Entry {
  readonly at: number;
  expire: (() => void) | null;
}

class DeadlineQueue {
  readonly #entries = new Deque<Entry>();
  #timer: NodeJS.Timeout | null = null;
  /** When the armed timer fires. */
  #armedAt = Number.POSITIVE_INFINITY;

  add(ms: number, expire: () => void): Deadline {
    const entry: Entry = { at: performance.now() + ms, expire };
    this.#entries.push(entry);
    if (this.#timer === null) this.#arm(entry.at);
    else if (this.#entries.size === 1) this.#timer.ref();
    return {
      cancel: () => {
        if (entry.expire === null) return;
        entry.expire = null;
        this.#dropSettled();
      },
    };
  }

  /** Clears the timer when nothing is pending. */
  releaseIfIdle(): void {
    if (this.#entries.size > 0 || this.#timer === null) return;
    clearTimeout(this.#timer);
    this.#timer = null;
    this.#armedAt = Number.POSITIVE_INFINITY;
  }

  #arm(at: number): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#armedAt = at;
    this.#timer = setTimeout(() => this.#fire(), Math.max(0, at - performance.now()));
  }

  #dropSettled(): void {
    const entries = this.#entries;
    while (entries.peek()?.expire === null) entries.shift();
    if (entries.size === 0) this.#timer?.unref();
  }

  #fire(): void {
    this.#timer = null;
    this.#armedAt = Number.POSITIVE_INFINITY;
    const entries = this.#entries;
    const now = performance.now();
    for (let head = entries.peek(); head !== null && (head.expire === null || head.at <= now); head = entries.peek()) {
      entries.shift();
      const expire = head.expire;
      head.expire = null;
      expire?.();
    }
    // NOTE: an expired ask's handler may have added asks (and armed a timer) meanwhile.
    const next = entries.peek();
    if (next !== null && next.at < this.#armedAt) this.#arm(next.at);
  }
}

const queues = new Map<number, DeadlineQueue>();

/** Calls `expire` after `ms` (finite, >= 0) unless cancelled first. */
export function armDeadline(ms: number, expire: () => void): Deadline {
  let queue = queues.get(ms);
  if (queue === undefined) {
    queue = new DeadlineQueue();
    queues.set(ms, queue);
  }
  return queue.add(ms, expire);
}

/** Clears the timers of queues with nothing pending (a system shut down). */
export function releaseIdleDeadlines(): void {
  for (const queue of queues.values()) queue.releaseIfIdle();
}
