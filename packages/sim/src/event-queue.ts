/**
 * EventQueue: the simulator's clock and pending events, a binary min-heap ordered by (time,
 * insertion number). Equal-time events fire in the order they were scheduled, so a simulation is
 * a pure function of its inputs.
 */

/** Something that reacts to an event; `tag` tells which kind of event of its own it scheduled. */
export interface EventTarget {
  fire(now: number, tag: number): void;
}

/** Min-heap of (time, sequence) → target. */
export class EventQueue {
  #times: number[] = [];
  #seqs: number[] = [];
  #targets: EventTarget[] = [];
  #tags: number[] = [];
  #next = 0;
  /** Current simulated time, ms. */
  now = 0;
  /** Events fired so far. */
  fired = 0;

  get size(): number {
    return this.#times.length;
  }

  /** Schedules `target.fire(at, tag)`; `at` earlier than now fires at now. */
  push(at: number, target: EventTarget, tag = 0): void {
    const t = at < this.now ? this.now : at;
    const times = this.#times;
    let i = times.length;
    times.push(t);
    this.#seqs.push(this.#next++);
    this.#targets.push(target);
    this.#tags.push(tag);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#less(i, parent)) break;
      this.#swap(i, parent);
      i = parent;
    }
  }

  #stopped = false;

  /** Ends `run` after the event being fired (the rest stay unfired). */
  stop(): void {
    this.#stopped = true;
  }

  /** Fires events in order until none is left, `stop()` is called, or the next one is after `until`. */
  run(until = Infinity): void {
    this.#stopped = false;
    while (!this.#stopped && this.#times.length > 0 && this.#times[0] <= until) {
      const t = this.#times[0];
      const target = this.#targets[0];
      const tag = this.#tags[0];
      this.#pop();
      this.now = t;
      this.fired++;
      target.fire(t, tag);
    }
  }

  #pop(): void {
    const last = this.#times.length - 1;
    this.#swap(0, last);
    this.#times.pop();
    this.#seqs.pop();
    this.#targets.pop();
    this.#tags.pop();
    const n = this.#times.length;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && this.#less(r, l) ? r : l;
      if (!this.#less(c, i)) break;
      this.#swap(c, i);
      i = c;
    }
  }

  #less(a: number, b: number): boolean {
    const ta = this.#times[a];
    const tb = this.#times[b];
    return ta < tb || (ta === tb && this.#seqs[a] < this.#seqs[b]);
  }

  #swap(a: number, b: number): void {
    if (a === b) return;
    const t = this.#times[a];
    this.#times[a] = this.#times[b];
    this.#times[b] = t;
    const s = this.#seqs[a];
    this.#seqs[a] = this.#seqs[b];
    this.#seqs[b] = s;
    const g = this.#targets[a];
    this.#targets[a] = this.#targets[b];
    this.#targets[b] = g;
    const k = this.#tags[a];
    this.#tags[a] = this.#tags[b];
    this.#tags[b] = k;
  }
}
