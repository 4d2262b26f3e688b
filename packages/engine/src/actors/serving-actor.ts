/**
 * ServingActor: what prefill, decode and colocated actors share — loading the model on the
 * actor's own thread (one TensorFlow.js backend per worker), attaching the process's KV pool,
 * running the engine loop one step per `step` message, and keeping utilization and batch
 * statistics.
 *
 * With context caching on, every serving actor wraps its pool in a KvMemPool (host and disk tiers
 * from the engine's `cache` options; see `lowerTiers`) and sends the pool's insert / swap / evict
 * events to the scheduler in batches, one message per event-loop turn, for the global prompt
 * tree, each batch naming the actor's KV site (pool identity, endpoint for transfers in). Its
 * PrefixShipper sends cached prefixes to other instances when the scheduler asks.
 *
 * Invariants: at most one `step` message is pending at a time (`#stepPending`); a step runs inside
 * the mailbox like any message, so requests, aborts and handoffs are admitted between steps, never
 * during one. Busy time counts only time spent inside `runStep`. The first event batch of each
 * incarnation has `reset` set (the tree forgets what a predecessor held).
 */
import { Actor, setThreadNice, type Message } from '@baton/actors';
import { BlockPool, KvMemPool, type BlockTable, type KvEndpointDescriptor, type KvPoolEvent } from '@baton/kv-cache';
import { backendMemory, initBackend, loadModel, type Gpt } from '@baton/model';
import { engineNow } from '../clock.js';
import { CrashTrigger } from '../fault-plan.js';
import { DecodeBatch } from './decode-batch.js';
import { PrefixShipper } from './prefix-shipper.js';
import type { TokenSink } from './token-sink.js';
import type { CachesDropped, KvSite, ServingActorStats, ServingInit } from '../protocol.js';

/**
 * Models loaded in this thread (or process), by model key, with the actors holding each. Actors
 * with one key share the model: an elastic instance's prefill and decode actors, so a role flip
 * reloads nothing. NOTE: a crash in a handler restarts the actor in place (same thread, new
 * instance); the dead instance never runs onStop, so an actor that held its model alone disposes
 * its predecessor's model here, or every restart would leak a model's tensors.
 */
const threadModels = new Map<string, { model: Promise<Gpt>; holders: Set<string> }>();

/** The model for `key`, loaded once per thread; `name` becomes one of its holders. */
function holdModel(key: string, name: string, model: string): Promise<Gpt> {
  const held = threadModels.get(key);
  if (held !== undefined && !(held.holders.size === 1 && held.holders.has(name))) {
    held.holders.add(name);
    return held.model;
  }
  if (held !== undefined) void held.model.then((m) => m.dispose(), () => undefined);
  const loading = loadModel(model);
  threadModels.set(key, { model: loading, holders: new Set([name]) });
  return loading;
}

/** `name` lets go of the model for `key`; the last holder disposes it. */
function releaseModel(key: string, name: string): void {
  const held = threadModels.get(key);
  if (held === undefined || !held.holders.delete(name) || held.holders.size > 0) return;
  threadModels.delete(key);
  void held.model.then((m) => m.dispose(), () => undefined);
}

/** Base of the actors that run the model. */
export abstract class ServingActor<P extends Message, Init extends ServingInit> extends Actor<P, Init> {
  protected model!: Gpt;
  protected pool!: BlockPool;
  protected backend = 'unloaded';
  protected activity = 'starting';
  protected preemptions = 0;
  /** The tiers under this actor's pool; null when caching is off. */
  protected mem: KvMemPool | null = null;
  /** Sends cached prefixes to other instances' pools; null when caching is off. */
  protected shipper: PrefixShipper | null = null;
  #events: KvPoolEvent[] = [];
  #eventsArmed = false;
  #stepPending = false;
  #crash: CrashTrigger | null = null;
  #startedAt = engineNow();
  #busyMs = 0;
  #steps = 0;
  #batchTotal = 0;
  #maxBatch = 0;
  #tokens = 0;

  /** Loads the backend and model; the actor is started once this resolves. */
  override async onStart(): Promise<void> {
    const info = await initBackend(this.init.setup.backend);
    this.backend = info.name;
    this.model = await holdModel(this.init.modelKey, this.context.name, this.init.setup.model);
    const source = this.init.pool;
    // NOTE: a restart in place (same thread) attaches the engine's pool again; an own pool is made anew per incarnation.
    this.pool = source.kind === 'shared' ? BlockPool.attach(source.handle, { owner: this.init.owner }) : BlockPool.create(source.options).withOwner(0);
    if (this.init.cache.enabled) this.#openTiers();
    if (this.init.faults.crashes.length > 0) this.#crash = new CrashTrigger(this.init.faults, this.init.faultFlags, this.role, this.init.index);
    this.#startedAt = engineNow();
    this.activity = 'idle';
    if (this.init.threadNice !== null) setThreadNice(this.init.threadNice);
  }

  /** Releases the model's tensors and the lower tiers. */
  override onStop(): void {
    releaseModel(this.init.modelKey, this.context.name);
    this.shipper?.close();
    void this.mem?.close();
  }

  /** Host and disk tiers below the hot pool (false: the pool's events only, evicted blocks are dropped). */
  protected lowerTiers(): boolean {
    return true;
  }

  /** Where other instances transfer cached prefixes into this actor's pool (null: nowhere). */
  protected siteEndpoint(): KvEndpointDescriptor | null {
    return null;
  }

  /** Tells the scheduler this actor's KV site now (call once its endpoint listens). */
  protected announceSite(): void {
    if (this.mem !== null) this.#sendEvents(false, true);
  }

  #openTiers(): void {
    const c = this.init.cache;
    const lower = this.lowerTiers();
    this.mem = new KvMemPool({
      pool: this.pool,
      hostBlocks: lower ? c.hostBlocks : 0,
      ...(c.diskDir === null || !lower ? {} : { disk: { dir: c.diskDir, maxBytes: c.diskMaxBytes } }),
    });
    this.shipper = new PrefixShipper(this.mem, this.init.scheduler);
    this.mem.subscribe((e) => this.#queueEvent(e));
    this.#sendEvents(true);
  }

  /** NOTE: events arrive one microtask after each pool change; a turn's worth go to the scheduler as one message. */
  #queueEvent(e: KvPoolEvent): void {
    this.#events.push(e);
    if (this.#eventsArmed) return;
    this.#eventsArmed = true;
    setImmediate(() => this.#sendEvents(false));
  }

  #sendEvents(reset: boolean, force = false): void {
    this.#eventsArmed = false;
    const events = this.#events;
    this.#events = [];
    if (events.length === 0 && !reset && !force) return;
    this.init.scheduler.tell({ type: 'cacheEvents', site: this.#site(), reset, events });
  }

  #site(): KvSite {
    return { role: this.role, index: this.init.index, poolId: this.init.poolId, endpoint: this.siteEndpoint() };
  }

  /** Role reported in stats. */
  protected abstract readonly role: ServingActorStats['role'];
  /** One engine iteration (schedule, run, postprocess); returns the batch size it ran, 0 if idle. */
  protected abstract runStep(): number;
  /** True while there is work that a step could make progress on. */
  protected abstract hasWork(): boolean;
  /** Queue and running counts for stats. */
  protected abstract counts(): { queueLength: number; running: number; kvBlocksUsed: number };

  /** A continuous-batching set for this actor's model and pool, streaming through `sink`. */
  protected decodeBatch(sink: TokenSink, cacheFinished?: (table: BlockTable, written: number[], requestId: string) => void): DecodeBatch {
    return new DecodeBatch({
      model: this.model,
      pool: this.pool,
      // NOTE: a finished sequence's prompt + output blocks become a cached prefix (through the tiers, so the prompt tree hears of it).
      cacheFinished: cacheFinished ?? ((table, written) => this.cachePrefix(table, written)),
      sink,
      maxBatch: this.init.limits.maxBatch,
      chunkSize: this.init.setup.chunkSize,
      kvWaitMs: this.init.limits.handoffTimeoutMs,
      onPreempt: () => (this.preemptions += 1),
    });
  }

  /**
   * Makes sure a `step` message is on its way when there is work.
   * NOTE: the step is sent after a full event-loop turn (setImmediate), not straight away: Node
   * drains a port's queued messages in one go, so a step loop that re-posted to its own port
   * at once would run many steps before any other port (a handoff, a new request, an abort) or an
   * Atomics.waitAsync wake-up got a turn — new sequences would wait for the batch to empty.
   */
  protected wake(): void {
    if (this.#stepPending || !this.hasWork()) return;
    this.#stepPending = true;
    setImmediate(() => this.context.self.tell({ type: 'step' } as unknown as P));
  }

  /** Handler body of the `step` message. */
  protected onStep(): void {
    this.#stepPending = false;
    this.#crash?.check(this.#steps);
    const start = engineNow();
    const batch = this.runStep();
    const end = engineNow();
    if (batch > 0) {
      this.#busyMs += end - start;
      this.#steps += 1;
      this.#batchTotal += batch;
      this.#maxBatch = Math.max(this.#maxBatch, batch);
    }
    this.afterStep(end - start, batch);
    if (!this.hasWork()) this.activity = this.idleActivity();
    this.wake();
  }

  /** Registers `table`'s full blocks as a cached prefix of `tokens` (through the tiers when caching is on, so the prompt tree hears of it). */
  protected cachePrefix(table: BlockTable, tokens: readonly number[]): void {
    if (this.mem !== null) this.mem.insert(table, tokens);
    else this.pool.publish(table, tokens);
  }

  /**
   * Drops every unreferenced cached block of this actor's pool and tiers (`engine.dropCaches`).
   * NOTE: the evict events are sent to the scheduler before this answers (delivered a microtask
   * after the drop, then sent at once instead of at the next turn), so the prompt tree hears of
   * them ahead of anything routed after the drop.
   */
  protected async dropCaches(): Promise<CachesDropped> {
    const dropped = this.mem !== null ? this.mem.clear() : { hot: this.pool.evictAllCached(), host: 0, disk: 0 };
    // NOTE: block files still being written are removed once written: the answer waits for them.
    await this.mem?.flush();
    await Promise.resolve();
    if (this.mem !== null) this.#sendEvents(false);
    return { actor: this.context.name, dropped };
  }

  /** What the actor reports doing when no step has work (default 'idle'). */
  protected idleActivity(): string {
    return 'idle';
  }

  /** Hook after each step (load reports). */
  protected afterStep(_stepMs: number, _batch: number): void {}

  /** Counts tokens processed (prompt or generated). */
  protected countTokens(n: number): void {
    this.#tokens += n;
  }

  /** Stats snapshot. */
  protected snapshot(): ServingActorStats {
    const wall = Math.max(1e-9, engineNow() - this.#startedAt);
    const backend = backendMemory();
    const usage = process.memoryUsage();
    return {
      name: this.context.name,
      role: this.role,
      activity: this.activity,
      ...this.counts(),
      utilization: Math.min(1, this.#busyMs / wall),
      steps: this.#steps,
      meanBatchSize: this.#steps === 0 ? null : this.#batchTotal / this.#steps,
      maxBatchSize: this.#maxBatch,
      tokensProcessed: this.#tokens,
      preemptions: this.preemptions,
      backend: this.backend,
      tensors: backend.numTensors,
      ownPool: this.init.pool.kind === 'own' ? this.pool.stats() : null,
      pid: process.pid,
      tiers: this.mem?.stats() ?? null,
      memory: {
        heapUsed: usage.heapUsed, heapTotal: usage.heapTotal, external: usage.external, arrayBuffers: usage.arrayBuffers,
        kernelWasm: this.model?.wasmMemoryBytes ?? 0, tfjsWasm: backend.wasmHeapBytes, rss: usage.rss,
      },
    };
  }
}
