/**
 * SimLoadReporter: an instance's load reports as the engine's actors send them (the engine's
 * `LoadReporter`): after each step, at most one report per the engine's report interval unless
 * forced; a report inside the interval waits as the trailing one (a later step's report replaces
 * it) and goes out when the interval ends, unless the instance is inside a step then (its thread
 * is busy: the step's own report goes out when it ends). A sent report reaches the scheduler one
 * hop later, where it replaces the scheduler's view of the instance whole.
 *
 * Invariants: at most one interval timer is pending; a report is built when the step ends, from
 * the state then (so it lacks what reached the actor's mailbox during the step); the latest
 * report always reaches the scheduler.
 */
import type { EventQueue, EventTarget } from './event-queue.js';
import { SIM_POLICY } from './sim-policy.js';

const TIMER = 0;

/** Throttled reports of one instance, delivered to `deliver` a hop after they are sent. */
export class SimLoadReporter<L> implements EventTarget {
  #lastSent = -Infinity;
  #trailing: L | null = null;
  #timerArmed = false;

  constructor(
    private readonly queue: EventQueue,
    private readonly hopMs: number,
    /** Whether the instance is inside a step now (its thread cannot run the timer). */
    private readonly inStep: () => boolean,
    private readonly deliver: (load: L, now: number) => void,
  ) {}

  /** A step ended at `now` with `load` (force: the step ran nothing, as the engine forces it then). */
  report(now: number, load: L, force: boolean): void {
    const wait = SIM_POLICY.reportIntervalMs - (now - this.#lastSent);
    if (force || wait <= 0) {
      this.#send(now, load);
      return;
    }
    this.#trailing = load;
    if (!this.#timerArmed) {
      this.#timerArmed = true;
      this.queue.push(now + wait, this, TIMER);
    }
  }

  fire(now: number, tag: number): void {
    if (tag !== TIMER) return;
    this.#timerArmed = false;
    // NOTE: inside a step the engine's timer runs only after it, when the step's own report (due by then) has replaced the trailing one.
    if (this.#trailing !== null && !this.inStep()) this.#send(now, this.#trailing);
  }

  #send(now: number, load: L): void {
    this.#lastSent = now;
    this.#trailing = null;
    this.queue.push(now + this.hopMs, new Delivery(load, this.deliver), 0);
  }
}

/** A report on its way to the scheduler. */
class Delivery<L> implements EventTarget {
  constructor(
    private readonly load: L,
    private readonly deliver: (load: L, now: number) => void,
  ) {}

  fire(now: number): void {
    this.deliver(this.load, now);
  }
}
