/**
 * PrefillActor: the prefill side of disaggregated serving. Each step takes waiting prompts under a
 * token budget; for each it reuses cached prefix blocks, reserves KV for the rest, opens a KV
 * channel to the decode actor the scheduler chose (block ids in a shared pool, or the transfer
 * stream to a decode actor in another process), prefills in chunks while writing every finished
 * layer to the channel, samples and streams the first token, registers the prompt's full blocks
 * in the prefix cache and drops its own references (the channel keeps what it needs until the
 * decode actor adopts it).
 *
 * With lower tiers under its pool (the `cache` options), a prompt's prefix match may have to bring
 * blocks up from host memory or disk, which is asynchronous: the match then runs between steps
 * (the job waits, holding nothing, while the mailbox keeps serving other messages) and its result
 * (with references on the matched blocks) is taken by the next step that prefills the job.
 *
 * Invariants: a prompt whose KV cannot be reserved (pool or handoff slots exhausted) stays queued,
 * never fails on the hot path; the last prompt token is always recomputed (its logits give the
 * first token). Prefill never waits for the decode choice (the length prediction that decides it
 * must not sit on the time to first token): a prompt prefilled before its decode actor (or the
 * route to it) is known keeps its blocks and is handed over, every layer at once, when it is. A
 * job holds a match's references only once it resolved, and they are released on abort, stop or
 * a blocked reservation (the job matches again next time). Matching is always against this
 * actor's own pool, so whatever the scheduler believed it held, reused KV is real.
 *
 * With caching on it listens for KV transfers into its pool (a KvEndpoint): a decode actor in
 * another pool sends a finished turn's prompt + output back (transfer-with-insert), and when the
 * scheduler moves a longer cached prefix here from another instance (Mooncake's rule), the job
 * waits (`awaitsPrefix`) until the scheduler says the transfer ended, or PREFIX_WAIT_MS passed,
 * and then matches its own pool as always: a transfer that brought less (a stale tree entry) or
 * nothing costs a recompute.
 *
 * The handoff side (routes, channels, prompts kept for their decode choice) is PrefillHandoffs
 * (prefill-handoffs.ts); a queued prompt and its prefix match, PrefillJob (prefill-job.ts).
 */
import { HandoffCancelledError, KvConnector, KvEndpoint, type BlockTable, type KvEndpointDescriptor, type KvWriter, type PrefixMatch } from '@baton/kv-cache';
import { availableParallelism, hostname } from 'node:os';
import { engineNow } from '../clock.js';
import { ActorFailedError } from '../errors.js';
import type { FlipPolicy } from '../elastic-options.js';
import type { PrefillInit, PrefillMsg, ServingActorStats, WireRequest } from '../protocol.js';
import { RequestSampler } from '../request-sampler.js';
import { BLOCKED_RETRY_MS, takesPrompt } from '../step-policy.js';
import { ThroughputEstimator } from '../throughput-estimator.js';
import { LoadReporter } from './load-reporter.js';
import { PrefillHandoffs, type FirstToken } from './prefill-handoffs.js';
import { dropMatch, takeMatch, type PrefillJob } from './prefill-job.js';
import { ServingActor } from './serving-actor.js';
import { Tombstones } from './tombstones.js';
import { TokenSink } from './token-sink.js';

/** The host this actor computes on, and its cores (shared by every actor on it). */
const MACHINE = { id: hostname(), cores: availableParallelism() };

/** A prompt blocked on KV this long makes a decode actor preempt to free room. */
const RECLAIM_AFTER_MS = 100;
/** A job waits at most this long for a cached prefix transferred to it, then recomputes what is missing. */
const PREFIX_WAIT_MS = 1_000;

/** Prefill actor (module default export, spawned by the engine). */
export default class PrefillActor extends ServingActor<PrefillMsg, PrefillInit> {
  protected readonly role = 'prefill';
  readonly #queue: PrefillJob[] = [];
  readonly #tombstones = new Tombstones();
  readonly #sink = new TokenSink(this.init.client, this.init.scheduler);
  readonly #reporter = new LoadReporter(this.init.scheduler);
  readonly #throughput = new ThroughputEstimator({ priorTokensPerSecond: 20_000 });
  #connector!: KvConnector;
  #handoffs!: PrefillHandoffs;
  /** Accepts cached prefixes transferred into this pool (caching on). */
  #endpoint: KvEndpoint | null = null;
  #retryArmed = false;
  #prefills = 0;
  #lastReclaim = -Infinity;
  #reclaims = 0;
  /** Elastic: the policy this actor gives up the prefill role by (null while it serves it). */
  #retiring: FlipPolicy | null = null;
  #retiredSent = false;

  readonly handlers = {
    prefill: (m: Extract<PrefillMsg, { type: 'prefill' }>) => this.#enqueue(m.request, m.awaitsPrefix),
    prefixArrived: (m: Extract<PrefillMsg, { type: 'prefixArrived' }>) => this.#prefixArrived(m.requestId),
    sendPrefix: (m: Extract<PrefillMsg, { type: 'sendPrefix' }>) => this.#sendPrefix(m),
    assignDecode: (m: Extract<PrefillMsg, { type: 'assignDecode' }>): void => {
      this.#assign(m.requestId, m.decode);
      this.#retireProgress();
    },
    abort: (m: Extract<PrefillMsg, { type: 'abort' }>): void => {
      this.#abort(m.requestId);
      this.#retireProgress();
    },
    retire: (m: Extract<PrefillMsg, { type: 'retire' }>) => this.#retire(m.policy),
    decoders: (m: Extract<PrefillMsg, { type: 'decoders' }>): void => {
      // NOTE: DecodeRoutes and every send read this one array: decode actors added later join it.
      for (const ref of m.decoders.slice(this.init.decoders.length)) this.init.decoders.push(ref);
    },
    activate: (): void => {
      this.#retiring = null;
    },
    step: () => this.onStep(),
    dropCaches: () => this.dropCaches(),
    stats: (): ServingActorStats => this.snapshot(),
  };

  override async onStart(): Promise<void> {
    await super.onStart();
    this.#connector = new KvConnector({ pool: this.pool });
    this.#handoffs = new PrefillHandoffs({
      decoders: this.init.decoders, poolId: this.init.poolId, connector: this.#connector, sink: this.#sink, name: this.context.name,
      layers: this.model.config.nLayer, handoffTimeoutMs: this.init.limits.handoffTimeoutMs,
      returnTo: () => (this.init.cache.returnFromDecode ? this.#endpoint?.descriptor ?? null : null),
      setTimeout: (fn, ms) => this.context.setTimeout(fn, ms),
      failed: (request, e) => this.#failed(request, e),
    });
    this.#handoffs.prefetch();
    const mem = this.mem;
    if (mem !== null) {
      // NOTE: on a cluster worker it listens where the worker says (--kv-host / --advertise-host): decode actors on other hosts return KV here.
      const at = this.init.kvListen;
      this.#endpoint = await KvEndpoint.listen({
        pool: this.pool, host: at?.host ?? '127.0.0.1', advertiseHost: at?.advertiseHost ?? undefined, insert: (table, tokens) => void mem.insert(table, tokens),
      });
      this.announceSite();
    }
  }

  protected override siteEndpoint(): KvEndpointDescriptor | null {
    return this.#endpoint?.descriptor ?? null;
  }

  override onStop(): void {
    this.#reporter.close();
    this.#handoffs?.close();
    for (const j of this.#queue) dropMatch(j);
    this.#connector?.close();
    void this.#endpoint?.close();
    super.onStop();
  }

  protected hasWork(): boolean {
    return !this.#retryArmed && this.#queue.some((j) => !j.matching && !j.awaitsPrefix);
  }

  protected counts(): { queueLength: number; running: number; kvBlocksUsed: number } {
    return { queueLength: this.#queue.length, running: this.#handoffs.awaiting, kvBlocksUsed: 0 };
  }

  protected runStep(): number {
    let budget = this.init.limits.tokenBudget;
    let done = 0;
    // NOTE: a prompt blocked on KV does not block shorter ones behind it (they may fit).
    let blockedAt = Infinity;
    for (let i = 0; i < this.#queue.length; ) {
      const job = this.#queue[i];
      const cost = job.request.promptIds.length;
      if (!takesPrompt(cost, { budget, taken: done, blockedAt }) || job.matching || job.awaitsPrefix) {
        i++;
        continue;
      }
      const match = takeMatch(job, {
        caching: this.init.cache.enabled, pool: this.pool, mem: this.mem, queue: this.#queue,
        wake: () => this.wake(), failed: (request, e) => this.#failed(request, e),
      });
      if (match === null) {
        i++;
        continue;
      }
      const outcome = this.#prefill(job.request, job.decode, match);
      if (outcome === 'blocked') {
        if (blockedAt === Infinity) this.#reclaimFor(job);
        blockedAt = cost;
        i++;
        continue;
      }
      this.#queue.splice(i, 1);
      budget -= cost;
      done += 1;
    }
    if (blockedAt !== Infinity) this.#retryLater();
    this.#sink.flush();
    this.activity = done > 0 ? `prefilled ${done} prompt` : this.#queue.length > 0 ? 'waiting for KV' : 'idle';
    return done;
  }

  protected override afterStep(stepMs: number, batch: number): void {
    this.#report(batch > 0 ? stepMs : null);
    this.#retireProgress();
  }

  /**
   * Elastic: stop serving prefill. `handover` gives every prompt not started (and not in a tiered
   * match) back to the scheduler for another prefill actor; `drain` prefills the queue here.
   * Prefilled prompts waiting for their decode choice are shipped when it comes, either way.
   */
  #retire(policy: FlipPolicy): void {
    this.#retiring = policy;
    this.#retiredSent = false;
    if (policy === 'handover') {
      const give = this.#queue.filter((j) => !j.matching);
      for (const j of give) {
        this.#queue.splice(this.#queue.indexOf(j), 1);
        dropMatch(j);
      }
      if (give.length > 0) this.init.scheduler.tell({ type: 'requeue', from: this.init.index, requests: give.map((j) => j.request) });
      this.#report(null);
    }
    this.#retireProgress();
  }

  /** Says `retired` once nothing of the prefill role is left here (no queued prompt, none awaiting its handoff). */
  #retireProgress(): void {
    if (this.#retiring === null || this.#retiredSent || this.#queue.length > 0 || this.#handoffs.awaiting > 0) return;
    this.#retiredSent = true;
    this.init.scheduler.tell({ type: 'retired', role: 'prefill', index: this.init.index });
  }

  protected override idleActivity(): string {
    if (this.#queue.length === 0) return this.#handoffs.awaiting > 0 ? `${this.#handoffs.awaiting} waiting for decode placement` : 'idle';
    return this.#retryArmed ? `waiting for KV (${this.#queue.length} queued)` : `${this.#queue.length} queued`;
  }

  #enqueue(request: WireRequest, awaitsPrefix: boolean): void {
    if (this.#tombstones.take(request.id)) return;
    const prompt = request.promptIds;
    const cached = this.init.cache.enabled ? this.pool.cachedPrefixLength(prompt.slice(0, -1)) : 0;
    const job: PrefillJob = { request, decode: null, since: engineNow(), match: null, matching: false, awaitsPrefix, uncached: prompt.length - cached };
    this.#queue.push(job);
    if (awaitsPrefix) this.context.setTimeout(() => this.#prefixArrived(request.id), PREFIX_WAIT_MS);
    this.#report(null);
    this.wake();
  }

  /** The transfer for a waiting job ended (or its wait timed out): it matches its own pool now. */
  #prefixArrived(requestId: string): void {
    const job = this.#queue.find((j) => j.request.id === requestId);
    if (job === undefined || !job.awaitsPrefix) return;
    job.awaitsPrefix = false;
    this.wake();
  }

  /** The scheduler moves a cached prefix of ours to another instance. */
  #sendPrefix(m: Extract<PrefillMsg, { type: 'sendPrefix' }>): void {
    if (this.shipper !== null) this.shipper.sendCached(m);
    else this.init.scheduler.tell({ type: 'prefixSent', requestId: m.requestId, tokens: 0 });
  }

  #assign(requestId: string, decode: number): void {
    const job = this.#queue.find((j) => j.request.id === requestId);
    if (job !== undefined) {
      job.decode = decode;
      return;
    }
    this.#handoffs.assign(requestId, decode);
  }

  #abort(requestId: string): void {
    const i = this.#queue.findIndex((j) => j.request.id === requestId);
    if (i >= 0) dropMatch(this.#queue.splice(i, 1)[0]);
    else this.#tombstones.add(requestId);
    this.#handoffs.abort(requestId);
  }

  /**
   * Prefills one prompt and hands it to decode actor `decode` (or keeps its blocks until the decode
   * choice and route are known); 'blocked' when KV cannot be reserved now.
   */
  #prefill(request: WireRequest, decode: number | null, match: PrefixMatch): 'done' | 'blocked' {
    const prompt = request.promptIds;
    const table = match.table;
    const target = this.#handoffs.targetOf(decode);
    if (!table.ensureCapacity(prompt.length)) {
      table.release();
      return 'blocked';
    }
    // NOTE: with the decode actor known, it hears of the channel first and adopts layer i while later layers compute.
    const writer = decode !== null && target !== null ? this.#handoffs.open(request, table, decode, target) : null;
    if (target !== null && writer === null) {
      table.release();
      return 'blocked';
    }
    const start = engineNow();
    this.activity = `prefilling ${prompt.length - match.cachedTokens} tokens`;
    this.init.client.tell({ type: 'prefillStarted', requestId: request.id, time: start });
    let keep = false;
    try {
      const first = this.#run(request, table, match.cachedTokens, writer);
      if (writer !== null && decode !== null) this.#handoffs.announce(request, decode, first);
      else if (!first.finished) {
        // NOTE: a request that ended at its first token needs no decode actor; once it finished the
        // scheduler forgets it and sends no `assignDecode`, so keeping it here would hold its blocks for good.
        this.#handoffs.keep({ request, table, first, decode });
        keep = true;
      }
    } catch (e) {
      writer?.cancel();
      if (writer !== null && decode !== null) this.#handoffs.prefillFailed(decode, request.id);
      // NOTE: a channel cancelled under us means the consumer side already settled this attempt
      // (decode timed out and reported a retryable failure, the request was aborted, or the
      // engine is recovering it from a dead decode actor): reporting an error here would end it.
      if (!(e instanceof HandoffCancelledError)) this.#failed(request, e);
    } finally {
      if (!keep) table.release();
    }
    const computed = prompt.length - match.cachedTokens;
    this.#throughput.observe(computed, engineNow() - start);
    this.countTokens(computed);
    return 'done';
  }

  /** Chunked prefill writing each layer to the channel, then the first token (streamed before anything else). */
  #run(request: WireRequest, table: BlockTable, cached: number, writer: KvWriter | null): FirstToken {
    const prompt = request.promptIds;
    const seq = this.model.attach(table, { length: cached });
    this.#prefills += 1;
    const every = this.init.faults.dropHandoffEvery;
    // NOTE: fault injection: a dropped handoff never publishes its layers; the decode side times out.
    const drop = every !== null && this.#prefills % every === 0;
    try {
      const logits = this.model.prefill(seq, prompt.slice(cached), {
        chunkSize: this.init.setup.chunkSize,
        onLayerDone: drop || writer === null ? undefined : (layer) => writer.publishLayer(layer),
      });
      if (this.mem !== null) this.mem.insert(table, prompt);
      else this.pool.publish(table, prompt);
      const first = new RequestSampler(request).next(logits);
      const time = engineNow();
      this.#sink.token(request.id, first.id, request.emitted, time);
      if (first.finish !== null) this.#sink.finish({ requestId: request.id, reason: first.finish, time, error: null, outputTokens: request.emitted + 1 });
      // NOTE: flushed before the decode actor hears of it, so the first token leaves first.
      this.#sink.flush();
      this.init.scheduler.tell({ type: 'firstToken', requestId: request.id, ttftMs: time - request.arrivalMs });
      return { id: first.id, finished: first.finish !== null, time, dropped: drop };
    } finally {
      seq.release();
    }
  }

  #failed(request: WireRequest, e: unknown): void {
    const cause = e instanceof Error ? e.message : String(e);
    this.#sink.finish({ requestId: request.id, reason: 'error', time: engineNow(), error: new ActorFailedError(this.context.name, cause).toJSON(), outputTokens: request.emitted });
    this.#sink.flush();
  }

  /**
   * The oldest prompt blocked on KV has waited past RECLAIM_AFTER_MS: a decode actor sharing this
   * pool preempts sequences to make room (the step policy's victims; round robin, at most one ask per interval),
   * so a new request's wait behind a full pool stays bounded.
   */
  #reclaimFor(job: PrefillJob): void {
    const now = engineNow();
    if (now - job.since < RECLAIM_AFTER_MS || now - this.#lastReclaim < RECLAIM_AFTER_MS) return;
    const shared = this.#handoffs.sharedDecoders();
    if (shared.length === 0) return;
    this.#lastReclaim = now;
    const decode = shared[this.#reclaims++ % shared.length];
    const blocks = Math.ceil(job.request.promptIds.length / this.pool.geometry.blockSize) + 1;
    this.init.decoders[decode].tell({ type: 'reclaim', blocks });
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
    const queuedPromptTokens = this.#queue.reduce((n, j) => n + j.uncached, 0);
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
          // NOTE: on the CPU backends the model computes on this host's cores, shared with every actor here.
          ...(this.backend === 'wasm' || this.backend === 'cpu' ? { machine: MACHINE } : {}),
        },
      },
      stepMs === null,
    );
  }
}
