/**
 * HostCpu: the machine a cell's instances share. The engine runs every instance as a thread of one
 * process, so while instances compute at once each one's work takes longer — the profile's co-run
 * factor (shared caches and memory bandwidth), and past the machine's core count time-sharing of
 * the cores too. Instances hand their model work here (`run`), measured as it takes alone; the
 * machine shares itself among the work in progress (processor sharing: every change of what runs
 * re-times what is left of the others) and fires the owner's tag when its work ends.
 *
 * Invariants: at most one piece of work per instance at a time; with no contention model (`own`
 * devices, or a profile without co-run factors) work of `ms` ends exactly `ms` later; otherwise
 * work runs at 1 / slowdown of its alone speed, where the slowdown with k pieces in progress is 1
 * for k = 1, else its co-run factor times max(1, k / cores).
 */
import type { EventQueue, EventTarget } from './event-queue.js';

/** The measured slowdown of model calls beside a busy neighbour, and the machine's cores. */
export interface Contention {
  prefillFactor: number;
  decodeFactor: number;
  cores: number;
}

/** Model work as timed alone, by kind (they are slowed differently). */
export interface Work {
  prefillMs: number;
  decodeMs: number;
}

interface Job {
  owner: EventTarget;
  tag: number;
  /** Alone-ms left at `at`. */
  left: number;
  factor: number;
  /** Current slowdown. */
  slow: number;
  at: number;
  gen: number;
  start: number;
}

/** The shared machine of one cell. */
export class HostCpu {
  readonly #jobs: Array<Job | null> = [];
  readonly #gens: number[] = [];
  readonly #busyMs: number[] = [];
  #active = 0;

  constructor(
    private readonly queue: EventQueue,
    private readonly contention: Contention | null,
  ) {}

  /** True when instances slow each other (work may end later than its alone time). */
  get contended(): boolean {
    return this.contention !== null;
  }

  /** A new instance's slot on this machine. */
  register(): number {
    this.#jobs.push(null);
    this.#gens.push(0);
    this.#busyMs.push(0);
    return this.#jobs.length - 1;
  }

  /** Time instance `slot` has computed here so far (work counted when it started without contention, when it ended with). */
  busyMs(slot: number): number {
    return this.#busyMs[slot];
  }

  /** Starts `work` of instance `slot` at `now`; `owner.fire(end, tag)` when it is done. */
  run(slot: number, now: number, work: Work, owner: EventTarget, tag: number): void {
    const ms = work.prefillMs + work.decodeMs;
    const c = this.contention;
    if (c === null) {
      this.#busyMs[slot] += ms;
      this.queue.push(now + ms, owner, tag);
      return;
    }
    if (this.#jobs[slot] !== null) throw new Error(`HostCpu: slot ${slot} is already computing`);
    this.#advance(now);
    const factor = ms > 0 ? (work.prefillMs * c.prefillFactor + work.decodeMs * c.decodeFactor) / ms : 1;
    this.#jobs[slot] = { owner, tag, left: ms, factor, slow: 1, at: now, gen: 0, start: now };
    this.#active++;
    this.#retime(now);
  }

  /** A job's end event (stale ones, re-timed since, are ignored). */
  ended(slot: number, gen: number, now: number): void {
    const job = this.#jobs[slot];
    if (job === null || job.gen !== gen) return;
    this.#advance(now);
    this.#jobs[slot] = null;
    this.#busyMs[slot] += now - job.start;
    this.#active--;
    this.#retime(now);
    job.owner.fire(now, job.tag);
  }

  /** Charges the time since each job's last change at its slowdown. */
  #advance(now: number): void {
    for (const j of this.#jobs) {
      if (j === null || now <= j.at) continue;
      j.left = Math.max(0, j.left - (now - j.at) / j.slow);
      j.at = now;
    }
  }

  /** Sets every job's slowdown for the work in progress now and schedules its end. */
  #retime(now: number): void {
    const c = this.contention as Contention;
    const k = this.#active;
    this.#jobs.forEach((j, slot) => {
      if (j === null) return;
      const slow = k <= 1 ? 1 : j.factor * Math.max(1, k / c.cores);
      if (slow === j.slow && j.gen > 0) return;
      j.slow = slow;
      j.gen = ++this.#gens[slot];
      this.queue.push(now + j.left * slow, new JobEnd(this, slot, j.gen), 0);
    });
  }
}

/** The end of one job as last timed. */
class JobEnd implements EventTarget {
  constructor(private readonly cpu: HostCpu, private readonly slot: number, private readonly gen: number) {}
  fire(now: number): void {
    this.cpu.ended(this.slot, this.gen, now);
  }
}
