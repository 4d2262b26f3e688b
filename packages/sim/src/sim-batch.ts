/**
 * SimBatch: continuous batching of running sequences as the engine's DecodeBatch does it, on
 * simulated time — each step first recomputes the oldest preempted sequence if its KV fits again
 * (at most one per step), then gives each of the first `maxBatch` running sequences room for one
 * more token, preempting the engine policy's victim when the pool runs out (vLLM's
 * recompute preemption).
 *
 * Invariants: `running` is in admission order (the victim is the engine policy's); a sequence's holding
 * is released exactly once (finish, preemption, failure); token i of a request is emitted once.
 */
import type { VictimView } from '@baton/engine';
import type { SimConfig } from './sim-config.js';
import { SimKvPool, type KvHolding } from './sim-kv-pool.js';
import { SIM_POLICY } from './sim-policy.js';
import type { SimRequest } from './sim-request.js';
import type { StepTimes } from './step-times.js';

/** A sequence in the batch: its request, KV rows computed and the blocks it holds. */
export interface RunningSeq {
  req: SimRequest;
  /** KV rows computed (prompt + emitted − 1: the last emitted token is fed next). */
  len: number;
  holding: KvHolding;
}

/** What the batch reports to its owner. */
export interface BatchHooks {
  /** A request's last token was emitted at `now`. */
  finished(req: SimRequest, now: number): void;
  /** A preempted request could not get KV back in time. */
  failed(req: SimRequest, now: number): void;
}

/** Prefill time of `tokens` new tokens after `prefix` cached ones, in chunks of `chunk`. */
export function chunkedPrefillMs(times: StepTimes, tokens: number, prefix: number, chunk: number): number {
  let ms = 0;
  for (let done = 0; done < tokens; done += chunk) ms += times.prefillMs(Math.min(chunk, tokens - done), prefix + done);
  return ms;
}

/** The running set of one instance. */
export class SimBatch {
  readonly running: RunningSeq[] = [];
  readonly #preempted: Array<{ req: SimRequest; since: number }> = [];
  /** Tokens a resumed sequence had emitted when it rejoined: its grace against another preemption. */
  readonly #resumedAt = new WeakMap<RunningSeq, number>();
  preemptions = 0;

  constructor(
    private readonly pool: SimKvPool,
    private readonly config: SimConfig,
    private readonly times: StepTimes,
    private readonly hooks: BatchHooks,
  ) {}

  get preemptedCount(): number {
    return this.#preempted.length;
  }

  get hasWork(): boolean {
    return this.running.length > 0 || this.#preempted.length > 0;
  }

  add(seq: RunningSeq): void {
    this.running.push(seq);
  }

  /** Picks this step's batch; `extraMs` is the recompute prefill the step also runs. */
  schedule(now: number): { batch: RunningSeq[]; extraMs: number; sumContext: number } {
    const extraMs = this.#recomputeOne(now);
    const batch: RunningSeq[] = [];
    const max = this.config.maxBatch;
    for (const r of [...this.running]) {
      if (batch.length >= max) break;
      // NOTE: an earlier reservation of this step may have preempted it.
      if (this.running.includes(r) && this.#reserve(r, now, batch)) batch.push(r);
    }
    const sumContext = batch.reduce((n, r) => n + r.len, 0);
    return { batch, extraMs, sumContext };
  }

  /** Every sequence of `batch` emits `steps` tokens (the last at `now`); finished ones leave. */
  complete(batch: readonly RunningSeq[], now: number, steps = 1): void {
    for (const r of batch) {
      r.len += steps;
      const req = r.req;
      req.emitted += steps;
      req.lastTokenMs = now;
      if (req.emitted >= req.maxTokens) this.#finish(r, now);
    }
  }

  /**
   * How many steps `batch` (just scheduled, room for one token each) can run back to back with
   * nothing changing: no sequence finishes before the last of them, none is preempted, and KV for
   * all of them is reserved now. 1 when that cannot be promised (then step one at a time).
   * NOTE: reserving the blocks of the whole run up front makes the pool look a few blocks fuller to
   * the scheduler than step-by-step growth would, by at most one block per sequence per 16 steps.
   */
  planRun(batch: readonly RunningSeq[], cap: number): number {
    if (this.#preempted.length > 0 || batch.length !== this.running.length) return 1;
    let k = cap;
    for (const r of batch) k = Math.min(k, r.req.maxTokens - r.req.emitted);
    if (k <= 1) return 1;
    const bs = this.config.kv.blockSize;
    for (const r of batch) {
      const need = Math.ceil((r.len + k) / bs) - SimKvPool.blocks(r.holding);
      if (need > 0 && !this.pool.grow(r.holding, need)) return 1;
    }
    return k;
  }

  /** Removes a sequence that just got its last token (also used for a first token that ends it). */
  #finish(r: RunningSeq, now: number): void {
    const i = this.running.indexOf(r);
    if (i >= 0) this.running.splice(i, 1);
    this.pool.publish(r.holding, r.req.hashes);
    this.pool.release(r.holding);
    this.hooks.finished(r.req, now);
  }

  /** Adds a sequence whose first token was just emitted (colocated prefill); ends it if that was its last. */
  join(r: RunningSeq, now: number): void {
    this.running.push(r);
    if (r.req.emitted >= r.req.maxTokens) this.#finish(r, now);
  }

  /** Room for one more token; preempts the policy's victims until there is (a victim already in `batch` leaves it). */
  #reserve(r: RunningSeq, now: number, batch: RunningSeq[]): boolean {
    const bs = this.config.kv.blockSize;
    while (SimKvPool.blocks(r.holding) * bs < r.len + 1) {
      if (this.pool.grow(r.holding)) continue;
      const victim = SIM_POLICY.preemptionVictim(this.running, (s) => this.#view(s));
      if (victim === undefined) return false;
      this.running.splice(this.running.indexOf(victim), 1);
      const k = batch.indexOf(victim);
      if (k >= 0) batch.splice(k, 1);
      this.pool.release(victim.holding);
      this.#preempted.push({ req: victim.req, since: now });
      this.preemptions++;
      if (victim === r) return false;
    }
    return true;
  }

  /** A running sequence as the engine's preemption policy sees it. */
  #view(s: RunningSeq): VictimView {
    const remainingTokens = Math.max(0, s.req.maxTokens - s.req.emitted);
    const resumedAt = this.#resumedAt.get(s);
    return {
      remainingTokens,
      blocksToFinish: Math.max(0, Math.ceil((s.len + remainingTokens) / this.config.kv.blockSize) - SimKvPool.blocks(s.holding)),
      tokensSinceResume: resumedAt === undefined ? null : s.req.emitted - resumedAt,
    };
  }

  /** Rebuilds the KV of the oldest preempted sequence; returns the prefill time it costs. */
  #recomputeOne(now: number): number {
    const p = this.#preempted[0];
    if (p === undefined) return 0;
    const req = p.req;
    const context = req.promptTokens + req.emitted - 1;
    const bs = this.config.kv.blockSize;
    const matched = Math.min(this.pool.matchLength(req.hashes), Math.floor(context / bs));
    const holding = this.pool.reserve(req.hashes, matched, context + 1, bs);
    if (holding === null) {
      if (this.running.length === 0 && now - p.since > this.config.kvWaitMs) {
        this.#preempted.shift();
        this.hooks.failed(req, now);
      }
      return 0;
    }
    this.#preempted.shift();
    const cached = matched * bs;
    const resumed: RunningSeq = { req, len: context, holding };
    this.#resumedAt.set(resumed, req.emitted);
    this.running.push(resumed);
    return cached < context ? chunkedPrefillMs(this.times, context - cached, cached, this.config.prefillChunkSize) : 0;
  }
}
