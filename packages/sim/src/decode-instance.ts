/**
 * DecodeInstance: a simulated decode actor. It receives handed-off sequences (announced when their
 * prefill starts, ready once prefill is done), loads their KV between steps (the profile's
 * transfer time, on this instance's own time line, as the decode thread does it), and runs
 * continuous batching over what it holds; it reports the load the scheduler routes on.
 *
 * Invariants: a sequence joins the batch only after its first token exists and its KV is loaded;
 * at most one step or load is in progress at a time; the step-time EWMA has the engine's weight (0.2).
 */
import { Ewma, type DecodeLoad } from '@baton/engine';
import type { CellHost } from './cell-host.js';
import type { RunningSeq, SimBatch } from './sim-batch.js';
import { SimInstance } from './sim-instance.js';
import type { KvHolding, SimKvPool } from './sim-kv-pool.js';
import { SIM_POLICY } from './sim-policy.js';
import type { SimRequest } from './sim-request.js';

const LOAD_END = 1;
/** Step-end tags are STEP_BASE + the run's generation (a truncated run's old end is ignored). */
const STEP_BASE = 2;
/** Longest run of identical steps simulated as one event. */
const MAX_RUN = 256;

interface Arrival {
  req: SimRequest;
  /** Blocks handed over (shared pool) or null until reserved here (per-instance pools). */
  holding: KvHolding | null;
  ready: boolean;
}

/** One decode instance. */
export class DecodeInstance extends SimInstance {
  declare readonly batch: SimBatch;
  readonly #arrivals = new Map<number, Arrival>();
  #ready: Arrival[] = [];
  #batchNow: RunningSeq[] = [];
  /** End time of each step of the current run (one entry for a single step). */
  #ends: number[] = [];
  #runSteps = 0;
  #gen = 0;
  /** Sequences whose KV load is in progress (their load ends with it). */
  #loading: SimRequest[] = [];
  /** Start of the step in progress on a shared machine (its time is known when it ends). */
  #stepStart = 0;
  readonly #stepMs = new Ewma(SIM_POLICY.stepEwmaAlpha);

  constructor(index: number, cell: CellHost, pool: SimKvPool) {
    super(index, cell, pool, 'decode', true);
  }

  /** The load report the scheduler reads. */
  load(predictedLong: number): DecodeLoad {
    const running = this.batch.running.length;
    return {
      id: this.id,
      running,
      queued: this.#arrivals.size + this.batch.preemptedCount,
      freeKvBlocks: this.pool.freeForRouting,
      totalKvBlocks: this.pool.total,
      predictedLongRunning: predictedLong,
      stepMs: running > 0 ? this.#stepMs.value : null,
    };
  }

  /** A prefill started for `req` and will hand its KV here. */
  incoming(req: SimRequest): void {
    this.#arrivals.set(req.index, { req, holding: null, ready: false });
  }

  /** Prefill finished: the first token exists; `holding` is the KV when the pool is shared. */
  prefilled(req: SimRequest, holding: KvHolding | null, now: number): void {
    const a = this.#arrivals.get(req.index);
    if (a === undefined) return;
    a.holding = holding;
    a.ready = true;
    this.#ready.push(a);
    if (this.busy) this.#truncate(now);
    else this.#kick(now);
  }

  /** The prefill ended the request (one-token output): drop the announced arrival. */
  cancel(req: SimRequest): void {
    this.#arrivals.delete(req.index);
  }

  fire(now: number, tag: number): void {
    if (tag === LOAD_END) {
      for (const req of this.#loading) req.kvEndMs = now;
      this.#loading = [];
    }
    if (tag >= STEP_BASE) {
      if (tag !== STEP_BASE + this.#gen) return;
      if (this.cell.cpu.contended && this.#batchNow.length > 0) this.#stepMs.update(now - this.#stepStart);
      const batch = this.#batchNow;
      this.#batchNow = [];
      this.countSteps(this.#runSteps, batch.length);
      this.batch.complete(batch, now, this.#runSteps);
    }
    this.busy = false;
    this.#kick(now);
  }

  /** Something arrived during a run of steps: the run ends with the step in progress. */
  #truncate(now: number): void {
    if (this.#runSteps <= 1) return;
    let j = 0;
    while (j < this.#runSteps - 1 && this.#ends[j] <= now) j++;
    if (j + 1 === this.#runSteps) return;
    this.unoccupy(this.#ends[this.#runSteps - 1] - this.#ends[j]);
    this.#runSteps = j + 1;
    this.#gen++;
    this.cell.queue.push(this.#ends[j], this, STEP_BASE + this.#gen);
  }

  /** Starts the next piece of work: pending KV loads first, then a step. */
  #kick(now: number): void {
    if (this.busy) return;
    const cell = this.cell;
    if (this.#ready.length > 0) {
      let ms = 0;
      const bs = cell.config.kv.blockSize;
      const waiting: Arrival[] = [];
      for (const a of this.#ready) {
        const req = a.req;
        if (a.holding === null) {
          // NOTE: per-instance pools: the KV lands in this pool; no room yet means it waits here.
          a.holding = this.pool.reserve(req.hashes, 0, req.promptTokens + 1, bs);
          if (a.holding === null) {
            waiting.push(a);
            continue;
          }
        }
        ms += cell.times.transferMs(req.promptTokens);
        this.#arrivals.delete(req.index);
        req.kvEndMs = now + ms;
        this.#loading.push(req);
        this.batch.add({ req, len: req.promptTokens, holding: a.holding });
      }
      this.#ready = waiting;
      if (ms > 0) {
        this.compute(now, { prefillMs: 0, decodeMs: ms }, LOAD_END);
        return;
      }
      this.#loading = [];
    }
    const { batch, extraMs, sumContext } = this.batch.hasWork ? this.batch.schedule(now) : { batch: [], extraMs: 0, sumContext: 0 };
    if (batch.length === 0 && extraMs === 0) {
      // NOTE: nothing could run (KV exhausted for every waiting sequence): retry shortly, as the
      // engine's actors do, unless there is nothing at all to wait for.
      if (this.#ready.length > 0 || this.batch.preemptedCount > 0) this.retryLater(now, LOAD_END);
      return;
    }
    if (cell.cpu.contended) {
      // NOTE: on a shared machine every step is its own piece of work: what runs beside it can change at any step.
      this.#ends = [];
      this.#batchNow = batch;
      this.#runSteps = 1;
      this.#gen++;
      this.#stepStart = now;
      this.compute(now, { prefillMs: extraMs, decodeMs: cell.times.decodeMs(batch.length, sumContext) + cell.times.stepOverheadMs }, STEP_BASE + this.#gen);
      return;
    }
    const steps = extraMs === 0 && this.#ready.length === 0 ? this.batch.planRun(batch, MAX_RUN) : 1;
    this.#ends = [];
    let t = now + extraMs;
    const overhead = cell.times.stepOverheadMs;
    for (let i = 0; i < steps; i++) {
      const ms = cell.times.decodeMs(batch.length, sumContext + i * batch.length) + overhead;
      t += ms;
      this.#ends.push(t);
      if (batch.length > 0) this.#stepMs.update(ms + (i === 0 ? extraMs : 0));
    }
    this.occupy(t - now);
    this.#batchNow = batch;
    this.#runSteps = steps;
    this.#gen++;
    cell.queue.push(t, this, STEP_BASE + this.#gen);
  }
}
