/**
 * DecodeActor: the decode side of disaggregated serving. It receives handed-off sequences from
 * prefill actors through KV channels (block ids when it shares their pool, the transfer stream
 * into its own pool when it does not), loads each layer into its model's backend-side cache as
 * soon as it arrives (layer-wise streaming, as Splitwise and Mooncake do), adopts the blocks when
 * prefill is done, and runs continuous batching over everything it holds.
 *
 * Invariants: an arrival becomes a running sequence only when every layer is loaded AND the first
 * token is known; a handoff that times out or is aborted is cancelled (its blocks go back to the
 * pool, nothing half-written is ever read); aborts that arrive before their handoff are remembered
 * (bounded tombstones) so a late `incoming` is cancelled at once.
 *
 * Decode returns KV: a finished sequence's prompt + output blocks become a cached prefix in this
 * pool (shared with the prefill actors on threads, so the next turn's prefill finds them there),
 * and, when the prefill actor that sent it does not share this pool, are sent back to it
 * (transfer-with-insert, `returnTo`). Its own pool keeps host and disk tiers only when it is its
 * own: blocks pushed out of a shared pool by its allocations would land in a tier only this
 * thread can read.
 */
import { KvEndpoint, openKvReader, type BlockTable, type KvEndpointDescriptor, type KvReader } from '@baton/kv-cache';
import type { ModelSequence } from '@baton/model';
import { engineNow } from '../clock.js';
import { HandoffFailedError } from '../errors.js';
import type { DecodeInit, DecodeKvRoute, DecodeMsg, ServingActorStats, WireRequest } from '../protocol.js';
import { RequestSampler } from '../request-sampler.js';
import { DecodeBatch } from './decode-batch.js';
import { DecodeHandover } from './decode-handover.js';
import { HandoffBacking } from './handoff-backing.js';
import { LoadReporter } from './load-reporter.js';
import { ServingActor } from './serving-actor.js';
import { Tombstones } from './tombstones.js';
import { TokenSink } from './token-sink.js';

interface Arrival {
  request: WireRequest;
  consumer: KvReader;
  backing: HandoffBacking;
  seq: ModelSequence;
  layersLoaded: number;
  first: { token: number; time: number } | null;
  cancel: AbortController;
  returnTo: KvEndpointDescriptor | null;
}

/** Decode actor (module default export, spawned by the engine). */
export default class DecodeActor extends ServingActor<DecodeMsg, DecodeInit> {
  protected readonly role = 'decode';
  readonly #arrivals = new Map<string, Arrival>();
  readonly #tombstones = new Tombstones();
  readonly #sink = new TokenSink(this.init.client, this.init.scheduler);
  readonly #reporter = new LoadReporter(this.init.scheduler);
  #batch!: DecodeBatch;
  /** Accepts KV streams from prefill actors that do not share this actor's pool. */
  #endpoint: KvEndpoint | null = null;
  /** Elastic: this actor is giving up the decode role (null while it serves it). */
  #retiring: DecodeHandover | null = null;
  #retiredSent = false;
  /** Running sequences whose KV goes back to their prefill actor's pool when they finish. */
  readonly #returnTo = new Map<string, KvEndpointDescriptor>();

  override async onStart(): Promise<void> {
    await super.onStart();
    this.#batch = this.decodeBatch(this.#sink, (table, written, requestId) => this.#cacheFinished(table, written, requestId));
    if (this.init.kvEndpoint) {
      const at = this.init.kvListen;
      this.#endpoint = await KvEndpoint.listen({ pool: this.pool, host: at?.host ?? '127.0.0.1', advertiseHost: at?.advertiseHost ?? undefined });
    }
    this.#report(null);
  }

  override onStop(): void {
    this.#retiring?.close();
    this.#reporter.close();
    for (const a of this.#arrivals.values()) this.#dropArrival(a);
    this.#batch?.releaseAll();
    void this.#endpoint?.close();
    super.onStop();
  }

  readonly handlers = {
    incoming: (m: Extract<DecodeMsg, { type: 'incoming' }>) => this.#incoming(m.request, m),
    sendPrefix: (m: Extract<DecodeMsg, { type: 'sendPrefix' }>): void => {
      if (this.shipper !== null) this.shipper.sendCached(m);
      else this.init.scheduler.tell({ type: 'prefixSent', requestId: m.requestId, tokens: 0 });
    },
    kvRoute: (): DecodeKvRoute => ({ poolId: this.init.poolId, endpoint: this.#endpoint?.descriptor ?? null }),
    prefilled: (m: Extract<DecodeMsg, { type: 'prefilled' }>) => this.#prefilled(m),
    prefillFailed: (m: Extract<DecodeMsg, { type: 'prefillFailed' }>) => this.#abort(m.requestId),
    reclaim: (m: Extract<DecodeMsg, { type: 'reclaim' }>): void => {
      if (this.#batch.yieldBlocks(m.blocks) > 0) this.wake();
    },
    abort: (m: Extract<DecodeMsg, { type: 'abort' }>) => this.#abort(m.requestId),
    retire: (m: Extract<DecodeMsg, { type: 'retire' }>) => this.#retire(m),
    activate: (): void => {
      this.#retiring?.close();
      this.#retiring = null;
    },
    step: () => this.onStep(),
    dropCaches: () => this.dropCaches(),
    stats: (): ServingActorStats => this.snapshot(),
  };

  protected hasWork(): boolean {
    return this.#batch.hasWork;
  }

  protected override lowerTiers(): boolean {
    return this.init.pool.kind === 'own';
  }

  /** A finished sequence: cache its blocks here, and send them back to its prefill actor's pool when that is another one. */
  #cacheFinished(table: BlockTable, written: number[], requestId: string): void {
    this.cachePrefix(table, written);
    const to = this.#returnTo.get(requestId);
    this.#returnTo.delete(requestId);
    if (to !== undefined) this.shipper?.sendTable(table, written, to);
  }

  protected counts(): { queueLength: number; running: number; kvBlocksUsed: number } {
    return {
      queueLength: this.#arrivals.size + this.#batch.preemptedCount,
      running: this.#batch.running.length,
      kvBlocksUsed: this.#batch.blocksUsed,
    };
  }

  protected runStep(): number {
    const batch = this.#batch.schedule();
    this.activity = batch.length > 0 ? `decoding ${batch.length} seq` : 'idle';
    if (batch.length > 0) this.#batch.postprocess(batch, this.#batch.run(batch));
    this.#sink.flush();
    this.countTokens(batch.length);
    return batch.length;
  }

  protected override afterStep(stepMs: number, batch: number): void {
    this.#report(batch > 0 ? stepMs : null);
    this.#retireProgress();
  }

  /** Elastic: stop serving decode; running sequences go to other decode actors (handover) or finish here (drain). */
  #retire(m: Extract<DecodeMsg, { type: 'retire' }>): void {
    this.#retiring?.close();
    this.#retiredSent = false;
    this.#retiring = new DecodeHandover({
      index: this.init.index, name: this.context.name, pool: this.pool, poolId: this.init.poolId, layers: this.model.config.nLayer,
      deadlineMs: 2 * this.init.limits.handoffTimeoutMs, scheduler: this.init.scheduler, client: this.init.client, sink: this.#sink,
      onRoute: () => this.#retireProgress(),
    }, m.policy, m.decoders, m.targets);
    this.#retireProgress();
  }

  /** A retiring actor hands over what it can now and says `retired` once it holds nothing of the decode role. */
  #retireProgress(): void {
    const h = this.#retiring;
    if (h === null) return;
    h.handOver(this.#batch);
    if (this.#retiredSent || this.#arrivals.size > 0 || this.#batch.hasWork) return;
    this.#retiredSent = true;
    this.init.scheduler.tell({ type: 'retired', role: 'decode', index: this.init.index });
  }

  protected override idleActivity(): string {
    return this.#arrivals.size > 0 ? `receiving ${this.#arrivals.size} handoff` : 'idle';
  }

  #incoming(request: WireRequest, m: Extract<DecodeMsg, { type: 'incoming' }>): void {
    if (m.ticket.kind === 'stream' && m.streamTo !== (this.#endpoint?.descriptor.token ?? null)) {
      // NOTE: the sender streams to an endpoint of an earlier incarnation of this actor (it restarted
      // elsewhere, and the old host may only be stopped, accepting the stream into buffers no one
      // reads): nothing will ever arrive here, so the attempt fails now rather than at the layer
      // timeout. The engine's retry aborts the sender's channel, which makes it ask for the route again.
      const name = this.context.name;
      if (!this.#tombstones.take(request.id)) this.#handoffFailed(request, `its KV stream went to an endpoint that is not ${name}'s (a route from before ${name} restarted)`);
      return;
    }
    let consumer: KvReader;
    try {
      consumer = openKvReader(m.ticket, { pool: this.pool, endpoint: this.#endpoint ?? undefined });
    } catch (e) {
      this.#handoffFailed(request, e);
      return;
    }
    if (this.#tombstones.take(request.id)) {
      consumer.cancel();
      return;
    }
    const backing = new HandoffBacking(consumer, consumer.tokenCount);
    const seq = this.model.attach(backing, { length: consumer.tokenCount });
    const a: Arrival = { request, consumer, backing, seq, layersLoaded: 0, first: null, cancel: new AbortController(), returnTo: m.returnTo };
    this.#arrivals.set(request.id, a);
    this.activity = `receiving ${this.#arrivals.size} handoff`;
    void this.#stream(a);
  }

  /** Loads layers as the producer publishes them. NOTE: runs between mailbox messages; model calls are synchronous. */
  async #stream(a: Arrival): Promise<void> {
    const layers = this.model.config.nLayer;
    try {
      const delay = this.init.faults.handoffDelayMs;
      for (let layer = 0; layer < layers; layer++) {
        if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
        await a.consumer.waitForLayer(layer, { timeoutMs: this.init.limits.handoffTimeoutMs, signal: a.cancel.signal });
        if (this.#arrivals.get(a.request.id) !== a) return;
        a.seq.loadLayer(layer);
        a.layersLoaded = layer + 1;
      }
      this.#maybeJoin(a);
    } catch (e) {
      if (this.#arrivals.get(a.request.id) !== a) return;
      this.#dropArrival(a);
      this.#handoffFailed(a.request, e);
      this.#retireProgress();
    }
  }

  /** Ends the attempt with a retryable handoff failure (the engine starts a new one). */
  #handoffFailed(request: WireRequest, e: unknown): void {
    const cause = e instanceof Error ? e.message : String(e);
    this.#sink.finish({
      requestId: request.id,
      reason: 'error',
      time: engineNow(),
      error: new HandoffFailedError(request.id, `KV handoff of request "${request.id}" to ${this.context.name} failed: ${cause}`).toJSON(),
      outputTokens: request.emitted,
    });
    this.#sink.flush();
  }

  #prefilled(m: Extract<DecodeMsg, { type: 'prefilled' }>): void {
    const a = this.#arrivals.get(m.requestId);
    if (a === undefined) return;
    if (m.finished) {
      this.#dropArrival(a);
      return;
    }
    a.first = { token: m.firstToken, time: m.time };
    this.#maybeJoin(a);
  }

  /** Moves a fully received sequence into the decode batch. */
  #maybeJoin(a: Arrival): void {
    if (a.first === null || a.layersLoaded < this.model.config.nLayer) return;
    this.#arrivals.delete(a.request.id);
    const table = a.backing.adopt();
    if (a.returnTo !== null) this.#returnTo.set(a.request.id, a.returnTo);
    const now = engineNow();
    this.init.client.tell({ type: 'kvTransfer', requestId: a.request.id, startMs: a.first.time, endMs: now });
    this.#batch.add({
      request: a.request,
      seq: a.seq,
      table,
      sampler: new RequestSampler(a.request, 1),
      lastToken: a.first.token,
      tokens: [a.first.token],
    });
    this.wake();
    this.#retireProgress();
  }

  #abort(requestId: string): void {
    if (this.#retiring?.forwardAbort(requestId) === true) return;
    this.#returnTo.delete(requestId);
    const a = this.#arrivals.get(requestId);
    if (a !== undefined) this.#dropArrival(a);
    else if (!this.#batch.abort(requestId)) this.#tombstones.add(requestId);
  }

  /** Cancels an arrival's handoff (its references go back to the pool) and frees its model slot. */
  #dropArrival(a: Arrival): void {
    this.#arrivals.delete(a.request.id);
    a.cancel.abort();
    a.consumer.cancel();
    a.seq.release();
  }

  #report(stepMs: number | null): void {
    const stats = this.pool.stats();
    const ewma = this.#reporter.stepMs(stepMs);
    this.#reporter.report(
      {
        kind: 'decode',
        index: this.init.index,
        load: {
          id: this.context.name,
          running: this.#batch.running.length,
          queued: this.#arrivals.size + this.#batch.preemptedCount,
          freeKvBlocks: stats.free + stats.cached,
          totalKvBlocks: stats.total,
          predictedLongRunning: 0,
          // NOTE: an idle actor reports no step time: one measured under a past burst would keep
          // the scheduler's TPOT estimate (and its rejections) up while nothing runs to correct it.
          stepMs: this.#batch.running.length > 0 ? ewma : null,
        },
      },
      stepMs === null,
    );
  }
}
