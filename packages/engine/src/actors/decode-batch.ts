/**
 * DecodeBatch: continuous batching of running sequences, shared by decode and colocated actors.
 * Each step: schedule (give every running sequence room for one more token, preempting the
 * policy's victim when the pool runs out: the one with most left to produce, never one near its
 * end or just resumed while another can go), run (one batched decode for all of them), postprocess (sample,
 * stream, finish). Preempted sequences are recomputed later from prompt + tokens already emitted
 * (vLLM's recompute preemption), so their streams continue with nothing duplicated or lost.
 *
 * Invariants: a running sequence owns its block table and model sequence and releases both exactly
 * once (finish, abort, preemption); `running` is in admission order (oldest first); a preempted
 * sequence's client is told it waits for KV (it is not stalled); at most one recompute per step
 * bounds a step's latency.
 */
import type { BlockPool, BlockTable } from '@baton/kv-cache';
import type { Gpt, ModelSequence } from '@baton/model';
import { engineNow } from '../clock.js';
import { KvExhaustedError } from '../errors.js';
import type { WireRequest } from '../protocol.js';
import { logitsRow, RequestSampler, type SampledToken } from '../request-sampler.js';
import { preemptionVictim, type VictimView } from '../step-policy.js';
import type { TokenSink } from './token-sink.js';

/** A sequence in the decode batch. */
export interface RunningSeq {
  request: WireRequest;
  seq: ModelSequence;
  table: BlockTable;
  sampler: RequestSampler;
  /** The token to feed next (sampled, KV not yet computed). */
  lastToken: number;
  /** Every token emitted so far (the first came from prefill). */
  tokens: number[];
}

interface Preempted {
  request: WireRequest;
  tokens: number[];
  since: number;
}

/** What one decode step returns: token ids chosen on the device, or logits to sample from. */
export type StepOutput = { kind: 'ids'; ids: Int32Array } | { kind: 'logits'; logits: Float32Array };

/** Collaborators of a DecodeBatch. */
export interface DecodeBatchDeps {
  model: Gpt;
  pool: BlockPool;
  sink: TokenSink;
  maxBatch: number;
  chunkSize: number;
  /** Registers a finished sequence's blocks (prompt + output tokens whose KV is written) as a cached prefix; the batch releases the table after. */
  cacheFinished: (table: BlockTable, written: number[], requestId: string) => void;
  /** A preempted sequence that cannot get KV back for this long, with nothing running, fails. */
  kvWaitMs: number;
  onPreempt: () => void;
}

/** The running set of one actor. */
export class DecodeBatch {
  readonly running: RunningSeq[] = [];
  readonly #preempted: Preempted[] = [];
  /** Tokens a resumed (recomputed) sequence had when it rejoined the batch: its grace against another preemption. */
  readonly #resumedAt = new WeakMap<RunningSeq, number>();

  constructor(private readonly deps: DecodeBatchDeps) {}

  /** Sequences waiting for recompute. */
  get preemptedCount(): number {
    return this.#preempted.length;
  }

  /** True when a step has something to do. */
  get hasWork(): boolean {
    return this.running.length > 0 || this.#preempted.length > 0;
  }

  /** Blocks held by running sequences. */
  get blocksUsed(): number {
    return this.running.reduce((n, r) => n + r.table.blockIds.length, 0);
  }

  add(r: RunningSeq): void {
    this.running.push(r);
  }

  /** Drops a request wherever it is; true if it was here. */
  abort(requestId: string): boolean {
    const i = this.running.findIndex((r) => r.request.id === requestId);
    if (i >= 0) {
      this.#release(this.running.splice(i, 1)[0]);
      return true;
    }
    const j = this.#preempted.findIndex((p) => p.request.id === requestId);
    if (j >= 0) this.#preempted.splice(j, 1);
    return j >= 0;
  }

  /** Picks this step's batch: recomputes one preempted sequence if it fits, then reserves KV. */
  schedule(): RunningSeq[] {
    this.#recomputeOne();
    const batch: RunningSeq[] = [];
    for (const r of [...this.running]) {
      if (batch.length >= this.deps.maxBatch) break;
      // NOTE: an earlier reservation of this step may have preempted it.
      if (this.running.includes(r) && this.#reserve(r, batch)) batch.push(r);
    }
    return batch;
  }

  /**
   * One batched decode over `batch`. An all-greedy batch asks the model for the argmax ids only
   * (on a GPU, logits then never leave the device); otherwise the logits [B * vocab] come back.
   */
  run(batch: readonly RunningSeq[]): StepOutput {
    const items = batch.map((r) => ({ seq: r.seq, token: r.lastToken }));
    if (batch.every((r) => r.sampler.greedy)) return { kind: 'ids', ids: this.deps.model.decodeGreedy(items) };
    return { kind: 'logits', logits: this.deps.model.decode(items) };
  }

  /** Samples each row (or takes the model's ids), streams the tokens, finishes ended sequences. */
  postprocess(batch: readonly RunningSeq[], step: StepOutput): void {
    const vocab = this.deps.model.config.vocabSize;
    const time = engineNow();
    batch.forEach((r, i) => {
      const s = step.kind === 'ids' ? r.sampler.take(step.ids[i]) : r.sampler.next(logitsRow(step.logits, i, vocab));
      this.accept(r, s, time);
    });
  }

  /** Records a sampled token for `r` (also used for a sequence's first decode-side token). */
  accept(r: RunningSeq, s: SampledToken, time: number): void {
    // NOTE: the sampler counts every attempt's tokens, so this is the token's output index.
    const index = r.sampler.produced - 1;
    this.deps.sink.token(r.request.id, s.id, index, time);
    r.tokens.push(s.id);
    r.lastToken = s.id;
    if (s.finish === null) return;
    this.running.splice(this.running.indexOf(r), 1);
    this.#publishAndRelease(r);
    this.deps.sink.finish({ requestId: r.request.id, reason: s.finish, time, error: null, outputTokens: index + 1 });
  }

  /**
   * Preempts the policy's victims until `blocks` blocks went back to the pool (or none is left
   * running), for a prefill that waits for KV: it bounds a new request's wait behind a full pool.
   * The victims are recomputed later, oldest first, with nothing lost or duplicated.
   * Returns the blocks freed.
   */
  yieldBlocks(blocks: number): number {
    let freed = 0;
    while (freed < blocks) {
      const victim = this.#victim();
      if (victim === undefined) break;
      freed += victim.table.blockIds.length;
      this.#preempt(victim);
    }
    return freed;
  }

  /**
   * Takes running sequence `requestId` out of the batch without releasing anything: the caller
   * now owns its model sequence and block table (a retiring decode actor hands it to another).
   */
  take(requestId: string): RunningSeq | null {
    const i = this.running.findIndex((r) => r.request.id === requestId);
    return i < 0 ? null : this.running.splice(i, 1)[0];
  }

  /** Releases everything (actor stopping). */
  releaseAll(): void {
    for (const r of this.running.splice(0)) this.#release(r);
    this.#preempted.length = 0;
  }

  /**
   * Room for one more token; preempts the policy's victims until there is (a victim already in
   * this step's `batch` leaves it). False if `r` itself was preempted.
   */
  #reserve(r: RunningSeq, batch: RunningSeq[]): boolean {
    while (!r.table.ensureCapacity(r.seq.length + 1)) {
      const victim = this.#victim();
      if (victim === undefined) return false;
      this.#preempt(victim);
      const k = batch.indexOf(victim);
      if (k >= 0) batch.splice(k, 1);
      if (victim === r) return false;
    }
    return true;
  }

  #victim(): RunningSeq | undefined {
    const blockSize = this.deps.pool.layout.geometry.blockSize;
    return preemptionVictim(this.running, (r): VictimView => {
      const remainingTokens = Math.max(0, r.request.maxTokens - r.sampler.produced);
      const resumedAt = this.#resumedAt.get(r);
      return {
        remainingTokens,
        blocksToFinish: Math.max(0, Math.ceil((r.seq.length + remainingTokens) / blockSize) - r.table.blockIds.length),
        tokensSinceResume: resumedAt === undefined ? null : r.tokens.length - resumedAt,
      };
    });
  }

  /** Releases a running sequence's KV and queues it for recompute; its client learns it waits for KV. */
  #preempt(victim: RunningSeq): void {
    this.running.splice(this.running.indexOf(victim), 1);
    this.#release(victim);
    this.#preempted.push({ request: victim.request, tokens: victim.tokens, since: engineNow() });
    this.deps.sink.kvWait(victim.request.id);
    this.deps.onPreempt();
  }

  /** Rebuilds the KV of the oldest preempted sequence (prompt + emitted tokens but the last). */
  #recomputeOne(): void {
    const p = this.#preempted[0];
    if (p === undefined) return;
    const { model, pool, chunkSize } = this.deps;
    const context = [...p.request.promptIds, ...p.tokens.slice(0, -1)];
    const match = pool.match(context);
    if (!match.table.ensureCapacity(context.length + 1)) {
      match.table.release();
      if (this.running.length === 0 && engineNow() - p.since > this.deps.kvWaitMs) this.#failPreempted(p);
      return;
    }
    this.#preempted.shift();
    const seq = model.attach(match.table, { length: match.cachedTokens });
    if (match.cachedTokens < context.length) model.prefill(seq, context.slice(match.cachedTokens), { chunkSize });
    const resumed: RunningSeq = {
      request: p.request,
      seq,
      table: match.table,
      sampler: new RequestSampler(p.request, p.tokens.length),
      lastToken: p.tokens[p.tokens.length - 1],
      tokens: p.tokens,
    };
    this.#resumedAt.set(resumed, p.tokens.length);
    this.running.push(resumed);
  }

  #failPreempted(p: Preempted): void {
    this.#preempted.shift();
    const error = new KvExhaustedError({ freeBlocks: this.deps.pool.stats().free });
    this.deps.sink.finish({ requestId: p.request.id, reason: 'error', time: engineNow(), error: error.toJSON(), outputTokens: p.request.emitted + p.tokens.length });
  }

  /** Registers the sequence's full blocks in the prefix cache (multi-turn reuse), then releases. */
  #publishAndRelease(r: RunningSeq): void {
    const written = [...r.request.promptIds, ...r.tokens].slice(0, r.seq.length);
    this.deps.cacheFinished(r.table, written, r.request.id);
    this.#release(r);
  }

  #release(r: RunningSeq): void {
    r.seq.release();
    r.table.release();
  }
}
