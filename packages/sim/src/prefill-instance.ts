/**
 * PrefillInstance: a simulated prefill actor. Each step walks the waiting prompts as the engine's
 * PrefillActor does (the step policy's `takesPrompt`: the first prompt always, later ones within
 * the token budget; a prompt that cannot get KV does not block shorter ones behind it), reserves
 * their KV (reusing cached prefix blocks; the last prompt token is always recomputed), and
 * prefills them one after another in chunks of prefillChunkSize; each prompt's first token is
 * emitted when its own prefill ends, and its KV is handed to the chosen decode instance.
 *
 * Invariants: a prompt whose KV cannot be reserved stays queued (the step retries after the
 * engine's retry delay); the throughput the scheduler routes on is the engine's
 * ThroughputEstimator fed with simulated times. Not modelled: the actor's ask to a decode actor to
 * preempt for a prompt blocked on KV for 100 ms.
 */
import { ThroughputEstimator, type PrefillLoad } from '@baton/engine';
import type { CellHost } from './cell-host.js';
import type { EventTarget } from './event-queue.js';
import { chunkedPrefillMs } from './sim-batch.js';
import { SimInstance } from './sim-instance.js';
import type { KvHolding, SimKvPool } from './sim-kv-pool.js';
import { SIM_POLICY } from './sim-policy.js';
import type { SimRequest } from './sim-request.js';

const JOB_DONE = 0;
const RETRY = 1;

interface Job {
  req: SimRequest;
  holding: KvHolding;
  startMs: number;
  cached: number;
  /** Its prefill's time alone. */
  ms: number;
}

/** One prefill instance. */
export class PrefillInstance extends SimInstance {
  readonly #queue: SimRequest[] = [];
  #step: Job[] = [];
  #stepDone = 0;
  #retryArmed = false;
  /** A prompt of the step in progress could not get KV: the retry timer is armed when the step ends. */
  #retryAfterStep = false;
  readonly throughput = new ThroughputEstimator({ priorTokensPerSecond: 20_000 });
  /** Prompt tokens of the jobs in the current step (still in the last report the scheduler saw). */
  #stepTokens = 0;
  #queuedTokens = 0;

  constructor(index: number, cell: CellHost, pool: SimKvPool) {
    super(index, cell, pool, 'prefill', false);
  }

  /** The load the scheduler routes on: queued prompts, counting the step in progress. */
  load(): PrefillLoad {
    return {
      id: this.id,
      queuedPromptTokens: this.#queuedTokens + this.#stepTokens,
      queuedRequests: this.#queue.length + this.#step.length,
      tokensPerSecond: this.throughput.tokensPerSecond,
    };
  }

  /** A request placed here, with its decode instance already chosen. */
  enqueue(req: SimRequest, now: number): void {
    this.#queue.push(req);
    this.#queuedTokens += req.promptTokens;
    this.#kick(now);
  }

  fire(now: number, tag: number): void {
    if (tag === RETRY) {
      this.#retryArmed = false;
      this.#kick(now);
      return;
    }
    this.#finishJob(this.#step[this.#stepDone++], now);
    if (this.#stepDone < this.#step.length) {
      // NOTE: the step's prompts are prefilled one after another, each starting when the last ends.
      this.#start(this.#step[this.#stepDone], now, 0);
      return;
    }
    this.#step = [];
    this.#stepDone = 0;
    this.#stepTokens = 0;
    this.busy = false;
    if (this.#retryAfterStep) {
      // NOTE: the engine arms its retry timer when the step ends (the prefills run inside the step).
      this.#retryAfterStep = false;
      this.#retryArmed = true;
      this.cell.queue.push(now + SIM_POLICY.blockedRetryMs, this, RETRY);
    }
    this.#kick(now);
  }

  #kick(now: number): void {
    if (this.busy || this.#retryArmed || this.#queue.length === 0) return;
    const cfg = this.cell.config;
    const bs = cfg.kv.blockSize;
    const step = { budget: cfg.tokenBudget, taken: 0, blockedAt: Infinity };
    const jobs: Job[] = [];
    for (let i = 0; i < this.#queue.length; ) {
      const req = this.#queue[i];
      const cost = req.promptTokens;
      if (!SIM_POLICY.takesPrompt(cost, step)) {
        i++;
        continue;
      }
      const matched = Math.min(this.pool.matchLength(req.hashes), Math.floor((cost - 1) / bs));
      const holding = this.pool.reserve(req.hashes, matched, cost, bs);
      if (holding === null) {
        step.blockedAt = cost;
        i++;
        continue;
      }
      this.#queue.splice(i, 1);
      this.#queuedTokens -= cost;
      step.budget -= cost;
      step.taken++;
      const ms = chunkedPrefillMs(this.cell.times, cost - matched * bs, matched * bs, cfg.prefillChunkSize) + this.cell.times.promptOverheadMs;
      jobs.push({ req, holding, startMs: now, cached: matched * bs, ms });
      this.cell.decoders[req.decode].incoming(req);
    }
    if (jobs.length === 0) {
      if (step.blockedAt !== Infinity) {
        this.#retryArmed = true;
        this.cell.queue.push(now + SIM_POLICY.blockedRetryMs, this, RETRY);
      }
      return;
    }
    this.#retryAfterStep = step.blockedAt !== Infinity;
    this.countSteps(1, jobs.length);
    this.#step = jobs;
    this.#stepTokens = jobs.reduce((n, j) => n + j.req.promptTokens, 0);
    this.#start(jobs[0], now, this.cell.times.prefillStepOverheadMs);
  }

  /** Starts one prompt's prefill (after `overheadMs` of the step's own cost). */
  #start(job: Job, now: number, overheadMs: number): void {
    job.startMs = now + overheadMs;
    job.req.prefillStartMs = now + overheadMs;
    this.compute(now, { prefillMs: overheadMs + job.ms, decodeMs: 0 }, JOB_DONE);
  }

  /** A prompt's prefill ended: first token, prefix publication, handoff to decode. */
  #finishJob(job: Job, now: number): void {
    const { req, holding } = job;
    const computed = req.promptTokens - job.cached;
    this.throughput.observe(computed, now - job.startMs);
    this.pool.publish(holding, req.hashes);
    req.emitted = 1;
    req.firstTokenMs = now;
    req.lastTokenMs = now;
    req.kvStartMs = now;
    const decoder = this.cell.decoders[req.decode];
    if (req.maxTokens <= 1) {
      this.pool.release(holding);
      decoder.cancel(req);
      this.cell.ended(req, 'finished', now);
      return;
    }
    const shared = decoder.pool === this.pool;
    if (!shared) this.pool.release(holding);
    // NOTE: the `prefilled` message reaches the decode thread one hop (and the engine's measured handoff path) later.
    this.cell.queue.push(now + this.cell.times.hopMs + this.cell.times.handoffMs, new Handoff(decoder, req, shared ? holding : null), 0);
  }
}

/** The `prefilled` message in flight to a decode instance. */
class Handoff implements EventTarget {
  constructor(
    private readonly decoder: { prefilled(req: SimRequest, holding: KvHolding | null, now: number): void },
    private readonly req: SimRequest,
    private readonly holding: KvHolding | null,
  ) {}

  fire(now: number): void {
    this.decoder.prefilled(this.req, this.holding, now);
  }
}
