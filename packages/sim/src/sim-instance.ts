/**
 * SimInstance: what every simulated serving instance (prefill, decode, colocated) shares — its id
 * and index, the cell it belongs to, its KV pool, and the step bookkeeping: one piece of work at a
 * time (`busy`), the engine's retry delay when KV is exhausted, and the steps, batch sizes and busy
 * time its statistics report.
 *
 * Invariants: `busyMs` only grows by work that was scheduled (a run cut short gives back what it
 * will not run); `steps` and `batchTotal` count steps that ran, so meanBatch = batchTotal / steps.
 */
import type { CellHost } from './cell-host.js';
import type { EventTarget } from './event-queue.js';
import type { Work } from './host-cpu.js';
import { SimBatch } from './sim-batch.js';
import type { SimKvPool } from './sim-kv-pool.js';
import { SIM_POLICY } from './sim-policy.js';

/** Per-instance figures of a run. */
export interface InstanceStats {
  cell: number;
  id: string;
  /** Busy share of the simulated span. */
  utilization: number;
  steps: number;
  /** Items per step: prompts (prefill), sequences (decode), sequences + prompt pieces (colocated). */
  meanBatch: number | null;
  preemptions: number;
}

/** Base of the simulated instances. */
export abstract class SimInstance implements EventTarget {
  readonly id: string;
  /** The continuous-batching set of an instance that decodes; null on prefill instances. */
  readonly batch: SimBatch | null;
  /** This instance's slot on the cell's machine. */
  protected readonly slot: number;
  protected busy = false;
  #steps = 0;
  #batchTotal = 0;
  #busyMs = 0;

  constructor(
    readonly index: number,
    protected readonly cell: CellHost,
    readonly pool: SimKvPool,
    role: string,
    decodes: boolean,
  ) {
    this.id = `${role}-${index}`;
    this.slot = cell.cpu.register();
    this.batch = decodes
      ? new SimBatch(pool, cell.config, cell.times, {
          finished: (req, now) => cell.ended(req, 'finished', now),
          failed: (req, now) => cell.ended(req, 'failed', now),
        })
      : null;
  }

  abstract fire(now: number, tag: number): void;

  /** Marks the instance busy with `ms` of work starting now (the caller schedules its end events). */
  protected occupy(ms: number): void {
    this.busy = true;
    this.#busyMs += ms;
  }

  /** Runs model `work` (as timed alone) on the cell's machine from `now`; `fire(end, tag)` when done. */
  protected compute(now: number, work: Work, tag: number): void {
    this.busy = true;
    this.cell.cpu.run(this.slot, now, work, this, tag);
  }

  /** Gives back `ms` of scheduled work that will not run (a run of steps cut short). */
  protected unoccupy(ms: number): void {
    this.#busyMs -= ms;
  }

  /** Counts `steps` steps of `items` each. */
  protected countSteps(steps: number, items: number): void {
    this.#steps += steps;
    this.#batchTotal += steps * items;
  }

  /** Nothing could run (KV exhausted): busy until `tag` fires after the engine's retry delay. */
  protected retryLater(now: number, tag: number): void {
    this.busy = true;
    this.cell.queue.push(now + SIM_POLICY.blockedRetryMs, this, tag);
  }

  /** The run's figures for this instance over a span of `spanMs`. */
  stats(cell: number, spanMs: number): InstanceStats {
    return {
      cell,
      id: this.id,
      utilization: spanMs > 0 ? Math.min(1, (this.#busyMs + this.cell.cpu.busyMs(this.slot)) / spanMs) : 0,
      steps: this.#steps,
      meanBatch: this.#steps === 0 ? null : this.#batchTotal / this.#steps,
      preemptions: this.batch?.preemptions ?? 0,
    };
  }
}
