/**
 * ColocatedActor: the baselines disaggregation is measured against — one actor that does both
 * phases with continuous batching over the shared KV pool.
 *  - `colocated` (vLLM's default scheduler): prefill first. When prompts wait and KV allows, a step
 *    prefills them (up to the token budget) and the running decodes stall for that step.
 *  - `chunked` (Sarathi-Serve): every step decodes the whole running batch and fills the rest of
 *    the token budget with one chunk of the oldest waiting prompt, in one model call.
 *
 * With host or disk tiers under its pool (the `cache` options), a waiting prompt's prefix match
 * may have to bring blocks up from them, which is asynchronous: it runs while the prompt waits,
 * and the step that admits the prompt takes its result (references on the matched blocks).
 *
 * Invariants: a prompt is admitted only when its KV can be reserved; a tiered match's references
 * are released on admission failure, abort or stop; the sequence being chunk-
 * prefilled owns its table and model sequence until it joins the decode batch or is aborted.
 */
import type { BlockTable, PrefixMatch } from '@baton/kv-cache';
import type { ModelSequence } from '@baton/model';
import { engineNow } from '../clock.js';
import type { ColocatedInit, ColocatedMsg, ServingActorStats, WireRequest } from '../protocol.js';
import { logitsRow, RequestSampler } from '../request-sampler.js';
import { chunkTokens, takesPrompt } from '../step-policy.js';
import { ThroughputEstimator } from '../throughput-estimator.js';
import { DecodeBatch } from './decode-batch.js';
import { LoadReporter } from './load-reporter.js';
import { ServingActor } from './serving-actor.js';
import { Tombstones } from './tombstones.js';
import { TokenSink } from './token-sink.js';

interface Prefilling {
  request: WireRequest;
  table: BlockTable;
  seq: ModelSequence;
}

/** Colocated / chunked-prefill actor (module default export, spawned by the engine). */
export default class ColocatedActor extends ServingActor<ColocatedMsg, ColocatedInit> {
  protected readonly role = 'colocated';
  readonly #waiting: WireRequest[] = [];
  readonly #tombstones = new Tombstones();
  readonly #sink = new TokenSink(this.init.client, this.init.scheduler);
  readonly #reporter = new LoadReporter(this.init.scheduler);
  readonly #throughput = new ThroughputEstimator({ priorTokensPerSecond: 20_000 });
  #batch!: DecodeBatch;
  #prefilling: Prefilling | null = null;
  /** Tiered prefix matches of waiting prompts, by request id: null while one runs. */
  readonly #matches = new Map<string, PrefixMatch | null>();

  override async onStart(): Promise<void> {
    await super.onStart();
    this.#batch = this.decodeBatch(this.#sink);
  }

  override onStop(): void {
    this.#reporter.close();
    this.#dropPrefilling();
    for (const m of this.#matches.values()) m?.table.release();
    this.#matches.clear();
    this.#batch?.releaseAll();
    super.onStop();
  }

  readonly handlers = {
    submit: (m: Extract<ColocatedMsg, { type: 'submit' }>) => this.#submit(m.request),
    abort: (m: Extract<ColocatedMsg, { type: 'abort' }>) => this.#abort(m.requestId),
    step: () => this.onStep(),
    dropCaches: () => this.dropCaches(),
    stats: (): ServingActorStats => this.snapshot(),
  };

  protected hasWork(): boolean {
    return this.#batch.hasWork || this.#prefilling !== null || this.#waiting.some((r) => this.#matches.get(r.id) !== null);
  }

  protected counts(): { queueLength: number; running: number; kvBlocksUsed: number } {
    const prefillBlocks = this.#prefilling?.table.blockIds.length ?? 0;
    return {
      queueLength: this.#waiting.length + this.#batch.preemptedCount,
      running: this.#batch.running.length + (this.#prefilling === null ? 0 : 1),
      kvBlocksUsed: this.#batch.blocksUsed + prefillBlocks,
    };
  }

  protected runStep(): number {
    const n = this.init.chunked ? this.#chunkedStep() : this.#prefillFirstStep();
    this.#sink.flush();
    return n;
  }

  protected override afterStep(stepMs: number, batch: number): void {
    this.#report(batch > 0 ? stepMs : null);
  }

  /** vLLM-style: waiting prompts first (decodes stall), else one decode step. */
  #prefillFirstStep(): number {
    let budget = this.init.limits.tokenBudget;
    let prefilled = 0;
    while (this.#waiting.length > 0 && takesPrompt(this.#waiting[0].promptIds.length, { budget, taken: prefilled, blockedAt: Infinity })) {
      const p = this.#admit(this.#waiting[0]);
      if (p === null) break;
      this.#waiting.shift();
      budget -= p.request.promptIds.length;
      const start = engineNow();
      const computed = p.request.promptIds.length - p.seq.length;
      const logits = this.model.prefill(p.seq, p.request.promptIds.slice(p.seq.length), { chunkSize: this.init.setup.chunkSize });
      this.#throughput.observe(computed, engineNow() - start);
      this.countTokens(computed);
      this.#finishPrefill(p, logits);
      prefilled += 1;
    }
    if (prefilled > 0) {
      this.activity = `prefilling ${prefilled} prompt (decodes stalled)`;
      return prefilled;
    }
    const batch = this.#batch.schedule();
    this.activity = batch.length > 0 ? `decoding ${batch.length} seq` : 'idle';
    if (batch.length > 0) this.#batch.postprocess(batch, this.#batch.run(batch));
    this.countTokens(batch.length);
    return batch.length;
  }

  /** Sarathi-style: the decode batch plus one prefill chunk under the token budget, in one call. */
  #chunkedStep(): number {
    const batch = this.#batch.schedule();
    if (this.#prefilling === null && this.#waiting.length > 0) {
      this.#prefilling = this.#admit(this.#waiting[0]);
      if (this.#prefilling !== null) this.#waiting.shift();
    }
    const p = this.#prefilling;
    const n = p === null ? 0 : chunkTokens({ tokenBudget: this.init.limits.tokenBudget, chunkSize: this.init.setup.chunkSize }, batch.length, p.request.promptIds.length - p.seq.length);
    const chunk = p === null || n === 0 ? [] : p.request.promptIds.slice(p.seq.length, p.seq.length + n);
    if (batch.length === 0 && chunk.length === 0) {
      this.activity = 'idle';
      return 0;
    }
    const segments = batch.map((r) => ({ seq: r.seq, tokens: [r.lastToken] }));
    if (p !== null && chunk.length > 0) segments.push({ seq: p.seq, tokens: chunk });
    const start = engineNow();
    const logits = this.model.step(segments);
    this.#batch.postprocess(batch, { kind: 'logits', logits: logits.subarray(0, batch.length * this.model.config.vocabSize) });
    if (p !== null && chunk.length > 0) {
      this.#throughput.observe(chunk.length, engineNow() - start);
      if (p.seq.length === p.request.promptIds.length) {
        this.#prefilling = null;
        this.#finishPrefill(p, logitsRow(logits, batch.length, this.model.config.vocabSize));
      }
    }
    this.activity = `decoding ${batch.length} seq + ${chunk.length}-token chunk`;
    this.countTokens(batch.length + chunk.length);
    return segments.length;
  }

  /** Reserves KV for a prompt (reusing cached prefix blocks); null when the pool cannot hold it now. */
  #admit(request: WireRequest): Prefilling | null {
    const held = this.#matches.get(request.id);
    if (held === null) return null;
    this.#matches.delete(request.id);
    // NOTE: after a failed reservation the swapped-in blocks are hot and indexed: the plain match finds them.
    const match = held ?? this.pool.match(request.promptIds.slice(0, -1));
    if (!match.table.ensureCapacity(request.promptIds.length)) {
      match.table.release();
      return null;
    }
    this.init.client.tell({ type: 'prefillStarted', requestId: request.id, time: engineNow() });
    return { request, table: match.table, seq: this.model.attach(match.table, { length: match.cachedTokens }) };
  }

  /** Samples the first token and moves the sequence into the decode batch (or ends it). */
  #finishPrefill(p: Prefilling, lastLogits: Float32Array): void {
    this.cachePrefix(p.table, p.request.promptIds);
    const sampler = new RequestSampler(p.request);
    const running = { request: p.request, seq: p.seq, table: p.table, sampler, lastToken: 0, tokens: [] };
    this.#batch.add(running);
    const time = engineNow();
    this.#batch.accept(running, sampler.next(lastLogits), time);
    this.init.scheduler.tell({ type: 'firstToken', requestId: p.request.id, ttftMs: time - p.request.arrivalMs });
  }

  #submit(request: WireRequest): void {
    if (this.#tombstones.take(request.id)) return;
    this.#waiting.push(request);
    this.#matchTiers(request);
    this.wake();
  }

  /** Starts a tiered match for a waiting prompt when the lower tiers hold anything (else the admitting step's hot match is the whole answer). */
  #matchTiers(request: WireRequest): void {
    const mem = this.mem;
    const t = mem?.stats();
    if (mem === null || t === undefined || (t.host.blocks === 0 && (t.disk?.blocks ?? 0) === 0)) return;
    this.#matches.set(request.id, null);
    const settle = (m: PrefixMatch | undefined): void => {
      if (m !== undefined && this.#matches.get(request.id) === null) this.#matches.set(request.id, m);
      else {
        m?.table.release();
        this.#matches.delete(request.id);
      }
      this.wake();
    };
    // NOTE: a failed tiered match falls back to the hot match when the prompt is admitted.
    mem.match(request.promptIds.slice(0, -1)).then(settle, () => settle(undefined));
  }

  #abort(requestId: string): void {
    const i = this.#waiting.findIndex((r) => r.id === requestId);
    this.#matches.get(requestId)?.table.release();
    this.#matches.delete(requestId);
    if (i >= 0) this.#waiting.splice(i, 1);
    else if (this.#prefilling?.request.id === requestId) this.#dropPrefilling();
    else if (!this.#batch.abort(requestId)) this.#tombstones.add(requestId);
  }

  #dropPrefilling(): void {
    if (this.#prefilling === null) return;
    this.#prefilling.seq.release();
    this.#prefilling.table.release();
    this.#prefilling = null;
  }

  #report(stepMs: number | null): void {
    this.#reporter.report(
      {
        kind: 'colocated',
        index: this.init.index,
        load: {
          id: this.context.name,
          queuedRequests: this.#waiting.length,
          queuedPromptTokens: this.#waiting.reduce((n, r) => n + r.promptIds.length, 0),
          running: this.#batch.running.length,
          tokensPerSecond: this.#throughput.tokensPerSecond,
          stepMs: this.#reporter.stepMs(stepMs),
        },
      },
      stepMs === null,
    );
  }
}
