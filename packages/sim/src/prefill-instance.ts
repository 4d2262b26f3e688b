/**
 * PrefillInstance: a simulated prefill actor. Each step takes waiting prompts under the token
 * budget exactly as the engine's PrefillActor does (a job whose decode instance is not chosen yet
 * is skipped; after the first prompt, one that does not fit the remaining budget is skipped),
 * reserves their KV (reusing cached prefix blocks; the last prompt token is always recomputed),
 * and prefills them one after another in chunks of prefillChunkSize; each prompt's first token is
 * emitted when its own prefill ends, and its KV is handed to the chosen decode instance.
 *
 * Invariants: a prompt whose KV cannot be reserved stays queued (retry after 2 ms); the measured
 * throughput the scheduler routes on is the engine's ThroughputEstimator fed with simulated times.
 */
import { ThroughputEstimator, type PrefillLoad } from '@baton/engine';
import type { CellHost } from './cell-host.js';
import type { EventTarget } from './event-queue.js';
import { chunkedPrefillMs } from './sim-batch.js';
import type { KvHolding, SimKvPool } from './sim-kv-pool.js';
import type { SimRequest } from './sim-request.js';

const JOB_DONE = 0;
const RETRY = 1;
/** The prefill actor's BLOCKED_RETRY_MS. */
const RETRY_MS = 2;

interface Job {
  req: SimRequest;
  holding: KvHolding | null;
  startMs: number;
  cached: number;
}

/** One prefill instance. */
export class PrefillInstance implements EventTarget {
  readonly id: string;
  readonly #queue: SimRequest[] = [];
  #step: Job[] = [];
  #stepDone = 0;
  #busy = false;
  #retryArmed = false;
  readonly throughput = new ThroughputEstimator({ priorTokensPerSecond: 20_000 });
  /** Prompt tokens of the jobs in the current step (still in the last report the scheduler saw). */
  #stepTokens = 0;
  #queuedTokens = 0;
  steps = 0;
  busyMs = 0;
  tokens = 0;

  constructor(
    readonly index: number,
    private readonly cell: CellHost,
    readonly pool: SimKvPool,
  ) {
    this.id = `prefill-${index}`;
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
    if (this.#stepDone < this.#step.length) return;
    this.#step = [];
    this.#stepDone = 0;
    this.#stepTokens = 0;
    this.#busy = false;
    this.#kick(now);
  }

  #kick(now: number): void {
    if (this.#busy || this.#retryArmed || this.#queue.length === 0) return;
    const cfg = this.cell.config;
    const bs = cfg.kv.blockSize;
    let budget = cfg.tokenBudget;
    let t = now;
    const jobs: Job[] = [];
    for (let i = 0; i < this.#queue.length; ) {
      const req = this.#queue[i];
      const cost = req.promptTokens;
      if (jobs.length > 0 && cost > budget) {
        i++;
        continue;
      }
      const matched = Math.min(this.pool.matchLength(req.hashes), Math.floor((cost - 1) / bs));
      const holding = this.pool.reserve(req.hashes, matched, cost, bs);
      if (holding === null) {
        this.#retryArmed = true;
        break;
      }
      this.#queue.splice(i, 1);
      this.#queuedTokens -= cost;
      budget -= cost;
      jobs.push({ req, holding, startMs: t, cached: matched * bs });
      const ms = chunkedPrefillMs(this.cell.times, cost - matched * bs, matched * bs, cfg.prefillChunkSize);
      req.prefillStartMs = t;
      this.cell.decoders[req.decode].incoming(req);
      t += ms;
      this.cell.queue.push(t, this, JOB_DONE);
    }
    if (jobs.length === 0) {
      if (this.#retryArmed) this.cell.queue.push(now + RETRY_MS, this, RETRY);
      return;
    }
    if (this.#retryArmed) this.cell.queue.push(t + RETRY_MS, this, RETRY);
    this.#busy = true;
    this.#step = jobs;
    this.#stepTokens = jobs.reduce((n, j) => n + j.req.promptTokens, 0);
    this.steps++;
    this.busyMs += t - now;
  }

  /** A prompt's prefill ended: first token, prefix publication, handoff to decode. */
  #finishJob(job: Job, now: number): void {
    const { req } = job;
    const computed = req.promptTokens - job.cached;
    this.throughput.observe(computed, now - job.startMs);
    this.tokens += computed;
    const holding = job.holding as KvHolding;
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
    // NOTE: the `prefilled` message reaches the decode thread one hop later.
    this.cell.queue.push(now + this.cell.times.hopMs, new Handoff(decoder, req, shared ? holding : null), 0);
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
