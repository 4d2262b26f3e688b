/**
 * PrefillActor: the prefill side of disaggregated serving. Each step takes waiting prompts under a
 * token budget; for each it reuses cached prefix blocks, reserves KV for the rest, opens a
 * layer-wise handoff to the decode actor the scheduler chose, prefills in chunks while publishing
 * every finished layer, samples and streams the first token, registers the prompt's full blocks in
 * the prefix cache and drops its own references (the handoff keeps the blocks alive until the
 * decode actor adopts them).
 *
 * Invariants: a prompt whose KV cannot be reserved (pool or handoff slots exhausted) stays queued,
 * never fails on the hot path; the last prompt token is always recomputed (its logits give the
 * first token); a request is never prefilled before its decode actor is known.
 */
import { HandoffCancelledError, type BlockTable, type HandoffProducer } from '@baton/kv-cache';
import { engineNow } from '../clock.js';
import { ActorFailedError } from '../errors.js';
import type { PrefillInit, PrefillMsg, ServingActorStats, WireRequest } from '../protocol.js';
import { RequestSampler } from '../request-sampler.js';
import { ThroughputEstimator } from '../throughput-estimator.js';
import { LoadReporter } from './load-reporter.js';
import { ServingActor } from './serving-actor.js';
import { Tombstones } from './tombstones.js';
import { TokenSink } from './token-sink.js';

interface Job {
  request: WireRequest;
  decode: number | null;
}

/** Retry delay when the pool or the handoff slots are exhausted. */
const BLOCKED_RETRY_MS = 2;
/** Handoffs remembered for cancellation on abort. */
const RECENT_HANDOFFS = 256;

/** Prefill actor (module default export, spawned by the engine). */
export default class PrefillActor extends ServingActor<PrefillMsg, PrefillInit> {
  protected readonly role = 'prefill';
  readonly #queue: Job[] = [];
  readonly #tombstones = new Tombstones();
  readonly #sink = new TokenSink(this.init.client, this.init.scheduler);
  readonly #reporter = new LoadReporter(this.init.scheduler);
  readonly #throughput = new ThroughputEstimator({ priorTokensPerSecond: 20_000 });
  #retryArmed = false;
  #handoffs = 0;
  /** Recent handoffs by request id, so an abort can cancel one its decode actor never adopted. */
  readonly #recent = new Map<string, HandoffProducer>();

  readonly handlers = {
    prefill: (m: Extract<PrefillMsg, { type: 'prefill' }>) => this.#enqueue(m.request),
    assignDecode: (m: Extract<PrefillMsg, { type: 'assignDecode' }>) => this.#assign(m.requestId, m.decode),
    abort: (m: Extract<PrefillMsg, { type: 'abort' }>) => this.#abort(m.requestId),
    step: () => this.onStep(),
    stats: (): ServingActorStats => this.snapshot(),
  };

  override onStop(): void {
    this.#reporter.close();
    super.onStop();
  }

  protected hasWork(): boolean {
    return !this.#retryArmed && this.#queue.some((j) => j.decode !== null);
  }

  protected counts(): { queueLength: number; running: number; kvBlocksUsed: number } {
    return { queueLength: this.#queue.length, running: 0, kvBlocksUsed: 0 };
  }

  protected runStep(): number {
    let budget = this.init.limits.tokenBudget;
    let done = 0;
    for (let i = 0; i < this.#queue.length; ) {
      const job = this.#queue[i];
      const cost = job.request.promptIds.length;
      if (job.decode === null || (done > 0 && cost > budget)) {
        i++;
        continue;
      }
      const outcome = this.#prefill(job.request, job.decode);
      if (outcome === 'blocked') {
        this.#retryLater();
        break;
      }
      this.#queue.splice(i, 1);
      budget -= cost;
      done += 1;
    }
    this.#sink.flush();
    this.activity = done > 0 ? `prefilled ${done} prompt` : this.#queue.length > 0 ? 'waiting for KV' : 'idle';
    return done;
  }

  protected override afterStep(stepMs: number, batch: number): void {
    this.#report(batch > 0 ? stepMs : null);
  }

  protected override idleActivity(): string {
    if (this.#queue.length === 0) return 'idle';
    return this.#retryArmed ? `waiting for KV (${this.#queue.length} queued)` : `${this.#queue.length} queued for decode placement`;
  }

  #enqueue(request: WireRequest): void {
    if (this.#tombstones.take(request.id)) return;
    this.#queue.push({ request, decode: null });
    this.#report(null);
  }

  #assign(requestId: string, decode: number): void {
    const job = this.#queue.find((j) => j.request.id === requestId);
    if (job === undefined) return;
    job.decode = decode;
    this.wake();
  }

  #abort(requestId: string): void {
    const i = this.#queue.findIndex((j) => j.request.id === requestId);
    if (i >= 0) this.#queue.splice(i, 1);
    else this.#tombstones.add(requestId);
    // NOTE: cancelling an adopted or finished handoff changes nothing; a pending one frees its blocks now.
    this.#recent.get(requestId)?.cancel();
    this.#recent.delete(requestId);
  }

  #remember(requestId: string, producer: HandoffProducer): void {
    this.#recent.set(requestId, producer);
    if (this.#recent.size > RECENT_HANDOFFS) this.#recent.delete(this.#recent.keys().next().value as string);
  }

  /** Prefills one prompt and hands it to decode actor `decode`; 'blocked' when KV cannot be reserved now. */
  #prefill(request: WireRequest, decode: number): 'done' | 'blocked' {
    const prompt = request.promptIds;
    const match = this.pool.match(prompt.slice(0, -1));
    const table = match.table;
    const producer = table.ensureCapacity(prompt.length)
      ? this.pool.openHandoff(table, { tokenCount: prompt.length, sequenceId: request.id, deadlineMs: 2 * this.init.limits.handoffTimeoutMs })
      : null;
    if (producer === null) {
      table.release();
      return 'blocked';
    }
    const start = engineNow();
    this.activity = `prefilling ${prompt.length - match.cachedTokens} tokens`;
    this.init.client.tell({ type: 'prefillStarted', requestId: request.id, time: start });
    const decoder = this.init.decoders[decode];
    this.#remember(request.id, producer);
    decoder.tell({ type: 'incoming', request, handoff: producer.descriptor });
    try {
      this.#run(request, table, match.cachedTokens, producer, decode);
    } catch (e) {
      producer.cancel();
      decoder.tell({ type: 'prefillFailed', requestId: request.id });
      // NOTE: a handoff cancelled under us means the consumer side already settled this attempt
      // (decode timed out and reported a retryable failure, the request was aborted, or the
      // engine is recovering it from a dead decode actor): reporting an error here would end it.
      if (e instanceof HandoffCancelledError) return 'done';
      const cause = e instanceof Error ? e.message : String(e);
      this.#sink.finish({ requestId: request.id, reason: 'error', time: engineNow(), error: new ActorFailedError(this.context.name, cause).toJSON(), outputTokens: request.emitted });
    } finally {
      table.release();
    }
    const computed = prompt.length - match.cachedTokens;
    this.#throughput.observe(computed, engineNow() - start);
    this.countTokens(computed);
    return 'done';
  }

  /** Chunked prefill with layer-wise publication, then the first token. */
  #run(request: WireRequest, table: BlockTable, cached: number, producer: HandoffProducer, decode: number): void {
    const prompt = request.promptIds;
    const seq = this.model.attach(table, { length: cached });
    this.#handoffs += 1;
    const every = this.init.faults.dropHandoffEvery;
    // NOTE: fault injection: a dropped handoff never publishes its layers; the decode side times out.
    const drop = every !== null && this.#handoffs % every === 0;
    try {
      const logits = this.model.prefill(seq, prompt.slice(cached), {
        chunkSize: this.init.setup.chunkSize,
        onLayerDone: drop ? undefined : (layer) => producer.publishLayer(layer),
      });
      this.pool.publish(table, prompt);
      const first = new RequestSampler(request).next(logits);
      const time = engineNow();
      this.#sink.token(request.id, first.id, request.emitted, time);
      if (first.finish !== null) this.#sink.finish({ requestId: request.id, reason: first.finish, time, error: null, outputTokens: request.emitted + 1 });
      // NOTE: flushed before the decode actor hears of it, so the first token leaves first.
      this.#sink.flush();
      this.init.scheduler.tell({ type: 'firstToken', requestId: request.id, ttftMs: time - request.arrivalMs });
      this.init.decoders[decode].tell({ type: 'prefilled', requestId: request.id, firstToken: first.id, finished: first.finish !== null, time });
    } finally {
      seq.release();
    }
  }

  #retryLater(): void {
    if (this.#retryArmed) return;
    this.#retryArmed = true;
    this.context.setTimeout(() => {
      this.#retryArmed = false;
      this.wake();
    }, BLOCKED_RETRY_MS);
  }

  #report(stepMs: number | null): void {
    const queuedPromptTokens = this.#queue.reduce((n, j) => n + j.request.promptIds.length, 0);
    this.#reporter.stepMs(stepMs);
    this.#reporter.report(
      {
        kind: 'prefill',
        index: this.init.index,
        load: {
          id: this.context.name,
          queuedPromptTokens,
          queuedRequests: this.#queue.length,
          tokensPerSecond: this.#throughput.tokensPerSecond,
        },
      },
      stepMs === null,
    );
  }
}
