/**
 * ColocatedInstance: a simulated colocated actor, both phases on one instance with continuous
 * batching, in the engine's two flavours:
 *  - `colocated` (prefill first): when prompts wait and KV allows, a step prefills them (the head
 *    of the queue, then more while the step policy's `takesPrompt` accepts them) one after
 *    another; running decodes stall for that step. Otherwise one decode step.
 *  - `chunked` (Sarathi-Serve): every step decodes the whole running batch plus one chunk of the
 *    oldest waiting prompt (the step policy's `chunkTokens`), in one model call whose time is the
 *    chunk's prefill plus the batch's decode (the model runs them in sequence).
 *
 * Load reports go to the scheduler as the actor sends them (`SimLoadReporter`): after each step,
 * throttled, with the prefill rate measured so far (the scheduler counts the requests it routed
 * itself). The first token of each prompt goes to the cell's `firstToken` hook.
 *
 * Invariants: a prompt is admitted only when its KV can be reserved; its first token is emitted
 * when its (last) prefill piece ends, and it joins the batch then.
 */
import { ThroughputEstimator } from '@baton/engine';
import type { CellHost } from './cell-host.js';
import { SimLoadReporter } from './load-reporter.js';
import { chunkedPrefillMs, type RunningSeq, type SimBatch } from './sim-batch.js';
import { SimInstance } from './sim-instance.js';
import type { SimKvPool } from './sim-kv-pool.js';
import { SIM_POLICY } from './sim-policy.js';
import type { SimRequest } from './sim-request.js';

const PREFILL_DONE = 0;
const STEP_END = 1;
const RETRY = 2;

/** What the scheduler takes from a colocated instance's load report: its measured prefill rate. */
export interface ColocatedLoad {
  id: string;
  tokensPerSecond: number;
}

/** One colocated or chunked instance. */
export class ColocatedInstance extends SimInstance {
  declare readonly batch: SimBatch;
  readonly #waiting: SimRequest[] = [];
  readonly throughput = new ThroughputEstimator({ priorTokensPerSecond: 20_000 });
  /** Prefill-first step: prompts being prefilled one after another. */
  #prefills: Array<{ seq: RunningSeq; startMs: number; computed: number; ms: number }> = [];
  #prefillsDone = 0;
  /** Chunked: the prompt being prefilled, its chunk in this step, and this step's decode batch. */
  #chunking: RunningSeq | null = null;
  #chunk = 0;
  #stepStart = 0;
  #batchNow: RunningSeq[] = [];
  readonly #reporter: SimLoadReporter<ColocatedLoad>;

  constructor(
    index: number,
    cell: CellHost,
    pool: SimKvPool,
    readonly chunked: boolean,
    /** Where the actor's load reports go (the scheduler's view of this instance). */
    report: (load: ColocatedLoad, now: number) => void = () => undefined,
  ) {
    super(index, cell, pool, chunked ? 'chunked' : 'colocated', true);
    this.#reporter = new SimLoadReporter(cell.queue, cell.times.hopMs, () => this.busy, report);
  }

  /** The step ended: its report (the rate as measured now). */
  #endStep(now: number, force: boolean): void {
    this.#reporter.report(now, { id: this.id, tokensPerSecond: this.throughput.tokensPerSecond }, force);
  }

  submit(req: SimRequest, now: number): void {
    this.#waiting.push(req);
    this.#kick(now);
  }

  fire(now: number, tag: number): void {
    if (tag === PREFILL_DONE) {
      const p = this.#prefills[this.#prefillsDone++];
      this.throughput.observe(p.computed, now - p.startMs);
      this.#firstToken(p.seq, now);
      if (this.#prefillsDone < this.#prefills.length) {
        // NOTE: the step's prompts are prefilled one after another, each starting when the last ends.
        this.#startPrefill(this.#prefillsDone, now, 0);
        return;
      }
      this.#prefills = [];
      this.#prefillsDone = 0;
    } else if (tag === STEP_END) {
      const batch = this.#batchNow;
      this.#batchNow = [];
      this.batch.complete(batch, now);
      const p = this.#chunking;
      if (p !== null && this.#chunk > 0) {
        this.throughput.observe(this.#chunk, now - this.#stepStart);
        p.len += this.#chunk;
        this.#chunk = 0;
        if (p.len === p.req.promptTokens) {
          this.#chunking = null;
          this.#firstToken(p, now);
        }
      }
    }
    this.busy = false;
    if (tag !== RETRY) this.#endStep(now, false);
    this.#kick(now);
  }

  #firstToken(seq: RunningSeq, now: number): void {
    const req = seq.req;
    this.pool.publish(seq.holding, req.hashes);
    req.emitted = 1;
    req.firstTokenMs = now;
    req.lastTokenMs = now;
    this.batch.join(seq, now);
    this.cell.firstToken(req, now);
  }

  /** Reserves KV for the head prompt; null when the pool cannot hold it now. */
  #admit(now: number): RunningSeq | null {
    const req = this.#waiting[0];
    const bs = this.cell.config.kv.blockSize;
    const matched = Math.min(this.pool.matchLength(req.hashes), Math.floor((req.promptTokens - 1) / bs));
    const holding = this.pool.reserve(req.hashes, matched, req.promptTokens, bs);
    if (holding === null) return null;
    this.#waiting.shift();
    req.prefillStartMs = now;
    return { req, len: matched * bs, holding };
  }

  #kick(now: number): void {
    if (this.busy) return;
    if (this.chunked) this.#chunkedStep(now);
    else this.#prefillFirstStep(now);
  }

  #prefillFirstStep(now: number): void {
    const cfg = this.cell.config;
    const step = { budget: cfg.tokenBudget, taken: 0, blockedAt: Infinity };
    let blocked = false;
    while (this.#waiting.length > 0 && SIM_POLICY.takesPrompt(this.#waiting[0].promptTokens, step)) {
      const seq = this.#admit(now);
      if (seq === null) {
        blocked = true;
        break;
      }
      step.budget -= seq.req.promptTokens;
      step.taken++;
      const computed = seq.req.promptTokens - seq.len;
      const ms = chunkedPrefillMs(this.cell.times, computed, seq.len, cfg.prefillChunkSize) + this.cell.times.promptOverheadMs;
      this.#prefills.push({ seq, startMs: now, computed, ms });
      seq.len = seq.req.promptTokens;
    }
    if (this.#prefills.length > 0) {
      this.countSteps(1, this.#prefills.length);
      this.#startPrefill(0, now, this.cell.times.prefillStepOverheadMs);
      return;
    }
    if (this.#decodeStep(now)) return;
    if (blocked) this.#blocked(now);
  }

  /** A step that ran nothing (KV exhausted): the engine forces a report, and the step is retried. */
  #blocked(now: number): void {
    this.#endStep(now, true);
    this.retryLater(now, RETRY);
  }

  #chunkedStep(now: number): void {
    const cfg = this.cell.config;
    const { batch, extraMs, sumContext } = this.batch.hasWork ? this.batch.schedule(now) : { batch: [], extraMs: 0, sumContext: 0 };
    let blocked = false;
    if (this.#chunking === null && this.#waiting.length > 0) {
      this.#chunking = this.#admit(now);
      blocked = this.#chunking === null;
    }
    const p = this.#chunking;
    const chunk = p === null ? 0 : SIM_POLICY.chunkTokens({ tokenBudget: cfg.tokenBudget, chunkSize: cfg.prefillChunkSize }, batch.length, p.req.promptTokens - p.len);
    if (batch.length === 0 && chunk === 0 && extraMs === 0) {
      if (blocked || this.batch.preemptedCount > 0) this.#blocked(now);
      return;
    }
    // NOTE: the step that ends a prompt also pays its first token's cost (sampling, streaming, publication).
    const prefillMs = chunk > 0 && p !== null ? this.cell.times.prefillMs(chunk, p.len) + (p.len + chunk === p.req.promptTokens ? this.cell.times.promptOverheadMs : 0) : 0;
    this.#chunk = chunk;
    this.#stepStart = now;
    this.#batchNow = batch;
    this.countSteps(1, batch.length + (chunk > 0 ? 1 : 0));
    this.compute(now, { prefillMs: extraMs + prefillMs, decodeMs: this.cell.times.decodeMs(batch.length, sumContext) + this.cell.times.stepOverheadMs }, STEP_END);
  }

  /** Starts the prefill of the step's prompt `i` (after `overheadMs` of the step's own cost). */
  #startPrefill(i: number, now: number, overheadMs: number): void {
    const p = this.#prefills[i];
    p.startMs = now + overheadMs;
    p.seq.req.prefillStartMs = now + overheadMs;
    this.compute(now, { prefillMs: overheadMs + p.ms, decodeMs: 0 }, PREFILL_DONE);
  }

  /** One decode step (prefill-first mode); false when there was nothing to run. */
  #decodeStep(now: number): boolean {
    if (!this.batch.hasWork) return false;
    const { batch, extraMs, sumContext } = this.batch.schedule(now);
    if (batch.length === 0 && extraMs === 0) {
      if (this.batch.preemptedCount > 0) this.#blocked(now);
      return true;
    }
    this.#batchNow = batch;
    this.countSteps(1, batch.length);
    this.compute(now, { prefillMs: extraMs, decodeMs: this.cell.times.decodeMs(batch.length, sumContext) + this.cell.times.stepOverheadMs }, STEP_END);
    return true;
  }
}
