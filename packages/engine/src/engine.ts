/**
 * Engine: Baton embedded in the caller's process (built by `createEngine`). Its `generate` streams
 * tokens back through a main-thread inbox; `stats` gathers every actor's numbers; `close` drains,
 * then aborts what is left after a deadline, and stops every thread.
 *
 * Invariants: every accepted request ends exactly once (length, stop, abort or error). When a
 * serving actor crashes (its supervisor restarts it), or a KV handoff fails, each request it held
 * starts a new attempt that resumes after the tokens already streamed (at most MAX_RETRIES
 * times, then it ends with an error): nothing hangs, no token is duplicated or lost. After `close`
 * begins, `generate` throws EngineClosedError.
 */
import { ActorUnresponsiveError, type ActorSystem } from '@baton/actors';
import type { BlockPool } from '@baton/kv-cache';
import type { BackendName, GptConfig, ModelDescription } from '@baton/model';
import { ActiveRequest, bindAbortSignal, type Generation, type GenerationResult } from './active-request.js';
import { engineNow } from './clock.js';
import type { EngineOptions } from './engine-options.js';
import { ActorFailedError, EngineClosedError, EngineError, InvalidRequestError, OverloadedError, engineErrorFromJSON } from './errors.js';
import { drainThenAbort, FinishedRequests } from './finished-requests.js';
import { HealthMonitor } from './health-monitor.js';
import type { ClientMsg, WireRequest } from './protocol.js';
import { limitsFor, validateRequest, type GenerateRequest, type NormalizedRequest } from './request.js';
import type { Topology } from './topology.js';
import type { FlipRecord, ScaleRecord } from './elastic-protocol.js';
import { retireInstance, spawnInstance, type RetireRequest, type ScaleDeps, type SpawnRequest } from './engine-scale.js';
import { isElastic } from './elastic-options.js';
import { flipInstance, type FlipRequest } from './engine-flip.js';
import { dropServingCaches, type DropCachesResult } from './drop-caches.js';
import { collectStats, type EngineStats } from './engine-stats.js';
import type { ElasticClientMsg } from './elastic-protocol.js';
import { ElasticHost } from './elastic-host.js';

/** Options of `engine.close`. */
export interface CloseOptions {
  /** In-flight requests still running after this long are aborted (default 30 000 ms). */
  deadlineMs?: number;
}

/** What createEngine assembles. @internal */
export interface EngineParts {
  options: EngineOptions;
  config: GptConfig;
  backend: BackendName;
  system: ActorSystem;
  topology: Topology;
  tokenizer: ModelDescription['tokenizer'];
  pool: BlockPool;
  reserved: number[];
  /** Removes what crash-rule flags left behind (marker files), at close. */
  disposeFaultFlags: () => void;
  /** Runs after the actor system shut down (the cluster connection closes). */
  afterShutdown?: () => Promise<void>;
}

const MAX_RETRIES = 3;
const WATCHDOG_INTERVAL_MS = 250;
const SUBMIT_TIMEOUT_MS = 30_000;
/** Retry-after hint of a request refused for waiting past `queue.maxWaitMs`. */
const QUEUE_RETRY_AFTER_MS = 1_000;

/** A running Baton engine. Create with {@link createEngine}. */
export class Engine {
  readonly #active = new Map<string, ActiveRequest>();
  /** Current attempt's wire id → request (messages of dead attempts find nothing here). */
  readonly #wire = new Map<string, ActiveRequest>();
  readonly #finished = new FinishedRequests();
  #retried = 0;
  #refusedQueued = 0;
  /** Requests waiting for a crashed actor's restart, by actor name. */
  readonly #parked = new Map<string, ActiveRequest[]>();
  #watchdog: NodeJS.Timeout | null = null;
  #closing: Promise<void> | null = null;

  /** The resolved options. */
  readonly options: EngineOptions;
  /** The served model's hyper-parameters. */
  readonly config: GptConfig;
  /** The TensorFlow.js backend the model actors run on. */
  readonly backend: BackendName;
  private readonly system: ActorSystem;
  private readonly topology: Topology;
  private readonly tokenizer: ModelDescription['tokenizer'];
  private readonly pool: BlockPool;
  /** Blocks held out of the pool by fault injection (`faults.reserveKvBlocks`), released at close. */
  private readonly reserved: number[];
  readonly #disposeFaultFlags: () => void;
  readonly #afterShutdown: (() => Promise<void>) | undefined;
  readonly #health: HealthMonitor;
  /** Elastic instances: the role table copy, spawns and retirements (null when roles are fixed). */
  readonly #elastic: ElasticHost | null;

  /** @internal use createEngine. */
  constructor(parts: EngineParts) {
    this.options = parts.options;
    this.config = parts.config;
    this.backend = parts.backend;
    this.system = parts.system;
    this.topology = parts.topology;
    this.tokenizer = parts.tokenizer;
    this.pool = parts.pool;
    this.reserved = parts.reserved;
    this.#disposeFaultFlags = parts.disposeFaultFlags;
    this.#afterShutdown = parts.afterShutdown;
    // NOTE: unref'd: an idle engine must not keep the caller's process alive.
    this.#watchdog = setInterval(() => this.#patrol(), WATCHDOG_INTERVAL_MS);
    this.#watchdog.unref();
    this.#health = new HealthMonitor(this.topology.serving, this.options.health, {
      onDown: (actor) => this.#actorDown(actor),
      onUp: (actor) => this.topology.scheduler.tell({ type: 'health', actor, up: true, reason: 'unresponsive' }),
      restart: (actor, silentMs) => this.#restartFrozen(actor, silentMs),
    }, engineNow);
    this.#health.start();
    this.#elastic = ElasticHost.forEngine(this.topology, this.#health, () => this.#closing !== null);
  }

  /** Starts a request; iterate the result for tokens. Throws InvalidRequestError / EngineClosedError at once. */
  generate(request: GenerateRequest): Generation {
    if (this.#closing !== null) throw new EngineClosedError();
    const req = validateRequest(request, limitsFor(this.config), { encode: (text) => this.tokenizer.encode(text) });
    if (this.#active.has(req.id)) throw new InvalidRequestError('id', `"${req.id}" is already in flight`);
    const active = this.#track(req, engineNow());
    bindAbortSignal(active, req.signal);
    if (!active.done) this.#submit(active, active.firstAttempt(engineNow()));
    return active.generation();
  }

  /** Numbers from every actor and the latest completed requests. Throws EngineClosedError once `close` began. */
  async stats(): Promise<EngineStats> {
    if (this.#closing !== null) throw new EngineClosedError();
    return collectStats({
      options: this.options, backend: this.backend, topology: this.topology, pool: this.pool, health: this.#health,
      closing: () => this.#closing !== null,
      counts: { active: this.#active.size, completed: this.#finished.completed, retried: this.#retried, refusedQueued: this.#refusedQueued },
      summary: this.#finished.summary(this.options.slo),
    });
  }

  /**
   * Elastic: instance `instance` changes role to `to` while the engine serves (decode: its running
   * sequences are handed to other decode instances or drained, by `elastic.policy`; prefill: its
   * queued prompts go to other prefill instances or are prefilled first). Resolves with the flip's
   * record once the instance serves in its new role. Throws InvalidRequestError on a bad request,
   * FlipRefusedError when the flip cannot be made now (roles fixed, bounds, already flipping), and
   * EngineError when it has not completed within `timeoutMs`.
   */
  async flip(request: FlipRequest): Promise<FlipRecord> {
    if (this.#closing !== null) throw new EngineClosedError();
    return flipInstance(this.topology.scheduler, request, { elastic: isElastic(this.options.elastic), closing: () => this.#closing !== null });
  }

  /**
   * Frees every unreferenced cached block on every serving actor, wherever it runs, in every tier
   * (hot pool, host memory, disk files); the prompt tree hears of it through the pools' evict
   * events. Blocks in use stay. Throws EngineClosedError once `close` began. See drop-caches.ts.
   */
  async dropCaches(): Promise<DropCachesResult> {
    if (this.#closing !== null) throw new EngineClosedError();
    return dropServingCaches(this.topology.serving, (actor) => this.#health.isDown(actor));
  }

  /**
   * Elastic: adds an instance serving `role` (a new worker thread or child process holding a
   * prefill and a decode actor, as the placement says), within `elastic.maxInstances` and the
   * role's maximum. Resolves with its record once it serves. Throws InvalidRequestError on a bad
   * request, ScaleRefusedError when it cannot be added now, EngineError past `timeoutMs`.
   */
  async spawn(request: SpawnRequest): Promise<ScaleRecord> {
    if (this.#closing !== null) throw new EngineClosedError();
    return spawnInstance(this.topology.scheduler, request, this.#scaleDeps());
  }

  /**
   * Elastic: retires live instance `instance` (its role hands over or drains as in a flip, then its
   * actors stop, its thread or process ends and its KV returns to the pool), within the role's
   * minimum. Resolves with its record once its actors stopped. Throws as `spawn` does.
   */
  async retire(request: RetireRequest): Promise<ScaleRecord> {
    if (this.#closing !== null) throw new EngineClosedError();
    return retireInstance(this.topology.scheduler, request, this.#scaleDeps());
  }

  #scaleDeps(): ScaleDeps {
    return { elastic: isElastic(this.options.elastic), closing: () => this.#closing !== null, settled: () => this.#elastic?.settled() ?? Promise.resolve() };
  }

  /** Stops accepting, lets requests finish until the deadline, aborts the rest, stops every actor. */
  close(options: CloseOptions = {}): Promise<void> {
    this.#closing ??= this.#shutdown(options.deadlineMs ?? 30_000);
    return this.#closing;
  }

  /** Routes a message from the actors (called by the client inbox). */
  deliver(msg: ClientMsg): void {
    if (msg.type === 'tokens') {
      // NOTE: one message's tokens come from one actor; its output is a sign of life as good as a
      // heartbeat answer (a busy actor on a loaded machine may answer heartbeats late, never a frozen one).
      const first = msg.items[0];
      const producer = first === undefined ? null : this.#wire.get(first.requestId)?.producerOf(first.index) ?? null;
      if (producer !== null) this.#health.alive(producer);
      for (const item of msg.items) this.#wire.get(item.requestId)?.token(item);
      return;
    }
    this.#wire.get(msg.requestId)?.receive(msg);
  }

  /** Routes an elastic message from the scheduler (called by the elastic inbox). */
  deliverElastic(msg: ElasticClientMsg): void {
    this.#elastic?.receive(msg);
  }

  /** The scheduler restarted and was rewired: it gets back the roles instances serve now. */
  restoreRoles(): void {
    this.#elastic?.restore();
  }

  /**
   * An actor crashed. Its pool references and handoffs are reclaimed now (before its supervisor
   * restarts it); the requests it held wait for the restart, then resume on a new attempt. An actor
   * that will not restart ends them with an error.
   */
  actorCrashed(actor: string, cause: unknown, willRestart: boolean): void {
    if (this.topology.serving.some((r) => r.name === actor)) {
      this.topology.scheduler.tell({ type: 'health', actor, up: false, reason: willRestart ? 'restarting' : 'unresponsive' });
    }
    const owner = this.topology.owners.get(actor);
    if (owner !== undefined) {
      this.pool.cancelHandoffsOf(owner);
      this.pool.reclaimOwner(owner);
    }
    const affected = [...this.#active.values()].filter((a) => a.dependsOn(actor));
    if (!willRestart) {
      this.#resumeElsewhere(affected, actor, cause);
      return;
    }
    for (const a of affected) a.parked = true;
    this.#parked.set(actor, [...(this.#parked.get(actor) ?? []), ...affected]);
  }

  /**
   * An actor stopped answering heartbeats. It gets no new work, and the requests it holds resume
   * now on other actors (after the tokens already streamed); whatever it sends for their old
   * attempts later is ignored.
   */
  #actorDown(actor: string): void {
    this.topology.scheduler.tell({ type: 'health', actor, up: false, reason: 'unresponsive' });
    for (const a of [...this.#active.values()]) {
      if (a.parked || !a.dependsOn(actor)) continue;
      if (!this.#retry(a)) a.complete('error', new ActorFailedError(actor, 'stopped answering heartbeats; retries exhausted'), true);
    }
  }

  /**
   * An actor silent past `health.restartAfterMs`: its host is ended (a thread terminated, a process
   * killed, a remote node declared dead) so its supervisor restarts it; its requests already
   * resumed elsewhere when it went down.
   */
  #restartFrozen(actor: string, silentMs: number): void {
    const ref = this.topology.serving.find((r) => r.name === actor);
    if (ref !== undefined) this.system.restartUnresponsive(ref, new ActorUnresponsiveError(actor, silentMs));
  }

  /** A crashed actor is back: its requests resume. */
  actorRestarted(actor: string): void {
    this.#health.restarted(actor);
    this.topology.scheduler.tell({ type: 'health', actor, up: true, reason: 'restarting' });
    const parked = this.#parked.get(actor) ?? [];
    this.#parked.delete(actor);
    for (const a of parked) if (!this.#retry(a)) a.complete('error', new ActorFailedError(actor, 'restarted, retries exhausted'), true);
  }

  /** A crashed actor was given up on (too many restarts): its waiting requests end with an error. */
  actorEscalated(actor: string, cause: unknown): void {
    // NOTE: each failed restart parked the same requests again; those already resumed elsewhere are left alone.
    const parked = [...new Set(this.#parked.get(actor) ?? [])].filter((a) => !a.done && a.dependsOn(actor));
    this.#parked.delete(actor);
    this.topology.scheduler.tell({ type: 'health', actor, up: false, reason: 'unresponsive' });
    this.#resumeElsewhere(parked, actor, cause);
  }

  /**
   * The requests of an actor given up on resume on the other actors, which the scheduler routes
   * to instead (e.g. a cluster worker left and no other has room for its actor); each ends with an
   * error only once its retries are spent.
   */
  #resumeElsewhere(requests: readonly ActiveRequest[], actor: string, cause: unknown): void {
    const error = new ActorFailedError(actor, cause instanceof Error ? cause.message : String(cause));
    for (const a of requests) if (!this.#retry(a)) a.complete('error', error, true);
  }

  /**
   * Periodic upkeep: sweeps expired KV handoffs; refuses requests queued past `queue.maxWaitMs`
   * (OverloadedError); retries (or fails) requests that stalled (not those waiting for KV).
   */
  #patrol(): void {
    this.pool.sweepExpiredHandoffs();
    const now = engineNow();
    const maxWait = this.options.queue.maxWaitMs;
    const limit = now - this.options.stallTimeoutMs;
    for (const a of [...this.#active.values()]) {
      const queued = a.queuedSinceMs;
      if (maxWait !== null && !a.parked && queued !== null && now - queued > maxWait) {
        this.#refuseQueued(a, now - queued);
        continue;
      }
      // NOTE: a preempted request waiting for KV is not stalled: its decode actor recomputes it when room frees up, or fails it itself when none will (kvWaitMs with nothing running).
      if (a.parked || a.waitingForKv || a.lastProgressMs > limit) continue;
      if (!this.#retry(a)) a.complete('error', new EngineError(`request "${a.id}" made no progress for ${this.options.stallTimeoutMs} ms`), true);
    }
  }

  /** Ends a request that waited too long to start: its attempt is dropped everywhere and its caller gets a retryable refusal. */
  #refuseQueued(active: ActiveRequest, waitedMs: number): void {
    this.topology.scheduler.tell({ type: 'abort', requestId: active.wireId });
    this.#refusedQueued += 1;
    active.refuse(new OverloadedError({
      estimate: 'queue',
      retryAfterMs: QUEUE_RETRY_AFTER_MS,
      message: `engine overloaded: request "${active.id}" waited ${Math.round(waitedMs)} ms to start (queue.maxWaitMs ${this.options.queue.maxWaitMs}; the KV cache is full or the queue long); retry after ${QUEUE_RETRY_AFTER_MS} ms`,
    }));
  }

  #track(req: NormalizedRequest, arrivalMs: number): ActiveRequest {
    const active: ActiveRequest = new ActiveRequest({
      request: req,
      arrivalMs,
      decoder: this.tokenizer.createDecoder(),
      now: engineNow,
      abortRemote: (wireId) => this.topology.scheduler.tell({ type: 'abort', requestId: wireId }),
      retry: (): boolean => this.#retry(active),
      onDone: (result) => this.#done(active, result),
    });
    this.#active.set(req.id, active);
    this.#wire.set(active.wireId, active);
    return active;
  }

  /** Drops the current attempt everywhere and submits one that resumes after the delivered tokens. */
  #retry(active: ActiveRequest): boolean {
    if (active.done || active.retries >= MAX_RETRIES || this.#closing !== null) return false;
    this.topology.scheduler.tell({ type: 'abort', requestId: active.wireId });
    this.#wire.delete(active.wireId);
    const wire = active.nextAttempt();
    this.#wire.set(wire.id, active);
    this.#retried += 1;
    this.#submit(active, wire);
    return true;
  }

  #submit(active: ActiveRequest, wire: WireRequest): void {
    this.topology.scheduler.ask({ type: 'submit', request: wire }, { timeoutMs: SUBMIT_TIMEOUT_MS }).then(
      (reply) => {
        if (!reply.accepted) active.refuse(this.#refused(engineErrorFromJSON(reply.error)));
      },
      (error: unknown) => active.refuse(error),
    );
  }

  /** NOTE: early rejection hides overload from measured latencies: the planner counts a refusal as a miss of the SLO whose estimate broke. */
  #refused(error: EngineError): EngineError {
    if (error instanceof OverloadedError) this.topology.planner?.tell({ type: 'refused', timeMs: engineNow(), slo: error.estimate === 'tpot' ? 'tpot' : 'ttft' });
    return error;
  }

  #done(active: ActiveRequest, result: GenerationResult | null): void {
    this.#active.delete(active.id);
    this.#wire.delete(active.wireId);
    if (result !== null) this.#finished.add(result.timing);
    if (result !== null && result.metrics.ttftMs !== null) {
      this.topology.planner?.tell({ type: 'observe', timeMs: engineNow(), ttftMs: result.metrics.ttftMs, tpotMs: result.metrics.tpotMs });
    }
  }


  async #shutdown(deadlineMs: number): Promise<void> {
    await drainThenAbort(() => [...this.#active.values()], deadlineMs);
    if (this.#watchdog !== null) clearInterval(this.#watchdog);
    this.#watchdog = null;
    this.#health.stop();
    await this.system.shutdown();
    await this.#afterShutdown?.();
    this.#disposeFaultFlags();
    if (this.reserved.length > 0) this.pool.release(this.reserved);
  }
}
