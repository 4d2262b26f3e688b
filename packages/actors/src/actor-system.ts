/**
 * `ActorSystem`: spawns actors in worker threads or child processes (the `placement` spawn
 * option), supervises them, hands out refs and inboxes, owns pools, and emits lifecycle events.
 * Lives on the thread that creates it (usually main).
 * Invariants: names are unique among live actors; every actor record is in exactly one state
 * (`starting` → `running` ⇄ `restarting` → `stopping` → `stopped`); a host (thread or process)
 * with no actor left is terminated; after `shutdown()` no process, thread, port, socket or timer
 * of the system remains.
 */
import * as Comlink from 'comlink/dist/esm/comlink.mjs';
import { EventEmitter } from 'eventemitter3';
import { MessageChannel, type MessagePort, type TransferListItem } from 'node:worker_threads';
import type { ActorHost } from './actor-host.js';
import { releaseIdleDeadlines } from './ask-deadlines.js';
import { ActorRef, linkOf, type Link } from './actor-ref.js';
import { Endpoint } from './endpoint.js';
import { deserializeError } from './error-codec.js';
import { ActorStartError, InvalidActorOptionsError, MessageNotCloneableError, SystemShutdownError } from './errors.js';
import { asError, createRecord, resolveMailbox, resolvePlacement, setRecordState, waitAtMost, type ActorRecord } from './actor-record.js';
import type { ActorSystemEvents, StopReason } from './events.js';
import { inboxBehavior, type InboxHandler } from './inbox.js';
import { linkFor } from './link-factory.js';
import type { Message } from './message.js';
import { resolveModuleUrl } from './module-loader.js';
import { createPool, type ActorPool, type PoolOptions } from './pool.js';
import type { ActorStats, HostApi, StartResult } from './protocol.js';
import type { RefResolver } from './reconnecting-link.js';
import { actorSpecFor, HostPool } from './host-pool.js';
import type { RemoteHostProvider } from './remote/remote-host-provider.js';
import { RouteDirectory } from './route-directory.js';
import { resolveSupervision } from './supervision.js';
import type { InboxOptions, SpawnOptions, StopOptions } from './system-options.js';
import { wireNode } from './wire-node.js';

/** Systems made in this process (actor and inbox ids are unique per process, not per system). */
let systemCount = 0;

/** A set of supervised actors on worker threads and child processes. */
export class ActorSystem {
  /**
   * Lifecycle events: started, restarted, crashed, stopped, escalated, deadLetter, workerStarted,
   * workerExited, processStarted, processExited.
   */
  readonly events = new EventEmitter<ActorSystemEvents>();
  readonly #records = new Map<string, ActorRecord>();
  readonly #names = new Map<string, string>();
  readonly #inboxes = new Map<string, Endpoint>();
  readonly #pools = new Set<ActorPool<unknown, unknown>>();
  readonly #serial = ++systemCount;
  readonly #directory = new RouteDirectory({ records: this.#records, inboxes: this.#inboxes });
  readonly #pool: HostPool;
  #nextId = 1;
  #shutdown: Promise<void> | null = null;

  readonly #resolver: RefResolver = {
    reconnect: (actorId, incarnation, via) => this.#directory.reconnect(actorId, incarnation, via),
    locate: (actorId) => this.#directory.locate(actorId),
    deadLetter: (letter) => this.events.emit('deadLetter', letter),
  };

  readonly #hostApi: HostApi = {
    crashed: (actorId, error) => this.#onCrash(actorId, deserializeError(error)),
    stopped: (actorId, error) => this.#onSelfStop(actorId, error === null ? null : deserializeError(error)),
    deadLetter: (letter) => this.events.emit('deadLetter', letter),
    reconnect: async (actorId, incarnation, via) => {
      const result = await this.#directory.reconnect(actorId, incarnation, via);
      return result.kind === 'connected' && result.route.via === 'port' ? Comlink.transfer(result, [result.route.port]) : result;
    },
    locate: (actorId) => this.#directory.locate(actorId),
  };

  readonly #remote: RemoteHostProvider | null;

  /** `remote`: where actors with `placement: 'remote'` run (for example `NatsRemoteHosts`). */
  constructor(options?: { readonly remote?: RemoteHostProvider }) {
    this.#remote = options?.remote ?? null;
    this.#pool = new HostPool(this.#hostApi, this.events, (host, cause) => this.#onHostDeath(host, cause));
  }

  /**
   * Starts an actor in a worker thread or a child process (`placement`) and resolves with its
   * ref once its constructor and `onStart` have run. Rejects with `ActorModuleNotFoundError`,
   * `ActorStartError`, `MessageNotCloneableError` (init) or `InvalidActorOptionsError`.
   */
  async spawn<P extends Message = Message, Init = unknown>(options: SpawnOptions<Init>): Promise<ActorRef<P>> {
    this.#assertOpen('spawn an actor');
    const name = this.#claimName(options.name);
    try {
      const record = this.#newRecord(name, options);
      const channel = record.placement === 'thread' ? new MessageChannel() : null;
      try {
        // NOTE: with actors in other processes this thread serves its inboxes at once, so refs
        // to them carry an address (no lookup through the system per ref).
        if (channel === null) await wireNode().listen();
        await this.#startIn(record, channel?.port2 ?? null, options.transfer);
      } catch (error) {
        channel?.port1.close();
        setRecordState(record, 'stopped');
        throw error;
      }
      // NOTE: a process host is ready (its address known) before it could start the actor.
      const address = channel === null ? (record.host as ActorHost).knownAddress : null;
      this.#records.set(record.id, record);
      setRecordState(record, 'running');
      this.events.emit('started', { name, id: record.id });
      const identity = { id: record.id, name, incarnation: record.incarnation };
      const route = channel === null ? ({ via: 'socket', address } as const) : ({ via: 'port', port: channel.port1, address: null } as const);
      return new ActorRef<P>(linkFor({ ...identity, route }, this.#resolver));
    } catch (error) {
      this.#names.delete(name);
      throw error;
    }
  }

  /**
   * A ref whose messages run `handler` on this thread; give it to actors to hear from them (in
   * worker threads over direct ports, in actor processes over a socket to this thread).
   */
  inbox<P extends Message = Message>(handler: InboxHandler<P>, options?: InboxOptions): ActorRef<P> {
    this.#assertOpen('create an inbox');
    const id = `inbox-${this.#serial}.${this.#nextId++}`;
    const name = options?.name ?? id;
    const behavior = inboxBehavior(handler);
    const endpoint: Endpoint = new Endpoint({
      id,
      name,
      incarnation: 1,
      mailbox: resolveMailbox(options?.mailbox),
      resolver: this.#resolver,
      onCrash: (cause) => {
        this.events.emit('crashed', { name, cause: asError(cause), willRestart: true });
        queueMicrotask(() => endpoint.state === 'down' && endpoint.start(behavior));
      },
    });
    endpoint.start(behavior);
    this.#inboxes.set(id, endpoint);
    wireNode().register(endpoint);
    return endpoint.selfRef() as unknown as ActorRef<P>;
  }

  /** A piscina pool of identical stateless replicas; closed by `shutdown()`. */
  pool<I, O>(options: PoolOptions): ActorPool<I, O> {
    this.#assertOpen('create a pool');
    const pool = createPool<I, O>(options, (closed) => this.#pools.delete(closed as ActorPool<unknown, unknown>));
    this.#pools.add(pool as ActorPool<unknown, unknown>);
    return pool;
  }

  /** Graceful stop: the actor drains its mailbox and runs `onStop`; killed after `timeoutMs`. */
  async stop<P extends Message>(ref: ActorRef<P>, options?: StopOptions): Promise<void> {
    const id = linkOf(ref).id;
    const inbox = this.#inboxes.get(id);
    if (inbox !== undefined) {
      this.#inboxes.delete(id);
      wireNode().unregister(id);
      await inbox.stop();
      return;
    }
    const record = this.#records.get(id);
    if (record === undefined || record.state === 'stopping' || record.state === 'stopped') return;
    await this.#stopRecord(record, options?.timeoutMs ?? 10_000, 'stopped', linkOf(ref));
  }

  /** Immediate stop: no drain, no `onStop`; waiting asks reject with `ActorStoppedError`. */
  async kill<P extends Message>(ref: ActorRef<P>): Promise<void> {
    const id = linkOf(ref).id;
    const inbox = this.#inboxes.get(id);
    if (inbox !== undefined) {
      this.#inboxes.delete(id);
      wireNode().unregister(id);
      inbox.kill();
      return;
    }
    const record = this.#records.get(id);
    if (record === undefined || record.state === 'stopped') return;
    await this.#killRecord(record);
    this.#finishStop(record, 'killed', null);
  }

  /**
   * Restarts an actor that stopped answering: its host is ended as a crash with `cause` (a thread
   * by `Worker.terminate()`, a process by SIGKILL, a remote node declared dead), and supervision
   * restarts it — and any other actor of that host — as after any crash. False when the actor is
   * not running (unknown, stopping, or already restarting).
   */
  restartUnresponsive<P extends Message>(ref: ActorRef<P>, cause: Error): boolean {
    const record = this.#records.get(linkOf(ref).id);
    const host = record?.host ?? null;
    if (record === undefined || record.state !== 'running' || host === null || !host.alive) return false;
    host.abandon(cause);
    return true;
  }

  /** Counters of every live actor (queue length, messages handled, state). */
  async stats(): Promise<ActorStats[]> {
    const all = await Promise.all(this.#pool.hosts.map((host) => host.call((control) => control.stats()).catch(() => [])));
    return all.flat();
  }

  /** Names of the live actors. */
  get actorNames(): string[] {
    return [...this.#records.values()].map((record) => record.name);
  }

  /** Stops every actor (gracefully, then by force), closes pools and inboxes, ends every thread and process. */
  shutdown(options?: StopOptions): Promise<void> {
    this.#shutdown ??= this.#doShutdown(options?.timeoutMs ?? 5_000);
    return this.#shutdown;
  }

  async #doShutdown(timeoutMs: number): Promise<void> {
    await Promise.all([...this.#records.values()].map((record) => this.#stopRecord(record, timeoutMs, 'shutdown')));
    for (const [id, inbox] of this.#inboxes) {
      wireNode().unregister(id);
      inbox.kill();
    }
    this.#inboxes.clear();
    await Promise.all([...this.#pools].map((pool) => pool.close()));
    await this.#pool.terminateAll();
    await this.#remote?.close();
    wireNode().closeIfIdle();
  }

  #assertOpen(operation: string): void {
    if (this.#shutdown !== null) throw new SystemShutdownError(operation);
  }

  #claimName(name: unknown): string {
    if (typeof name !== 'string' || name.length === 0) {
      throw new InvalidActorOptionsError('name', `expected a non-empty string, got ${JSON.stringify(name)}`);
    }
    if (this.#names.has(name)) throw new InvalidActorOptionsError('name', `an actor named '${name}' is already running`);
    this.#names.set(name, '');
    return name;
  }

  #newRecord(name: string, options: SpawnOptions<unknown>): ActorRecord {
    const { placement, processArgs } = resolvePlacement(options.placement, options.processArgs);
    const group = options.group ?? null;
    const groupPlacement = group === null ? null : this.#pool.groupPlacement(group);
    if (groupPlacement !== null && groupPlacement !== placement) {
      throw new InvalidActorOptionsError('group', `group '${group}' runs with placement '${groupPlacement}', not '${placement}'`);
    }
    const record = createRecord({
      id: `${name}#${this.#serial}.${this.#nextId++}`,
      name,
      module: resolveModuleUrl(options.module),
      exportName: options.exportName ?? 'default',
      mailbox: resolveMailbox(options.mailbox),
      init: options.init,
      group,
      placement,
      processArgs,
      supervision: resolveSupervision(options.supervision),
    });
    this.#names.set(name, record.id);
    return record;
  }

  /** Constructs the record's actor in a (possibly new) host; throws a typed error on failure. */
  async #startIn(record: ActorRecord, port: MessagePort | null, transfer?: readonly TransferListItem[]): Promise<void> {
    // NOTE: init is encoded before a host is chosen, so an init that cannot cross fails before a fork.
    const { spec, transfer: moved } = actorSpecFor(record, transfer);
    const host = record.placement === 'remote' ? this.#remoteHostFor(record) : this.#pool.hostFor(record);
    record.host = host;
    host.actorIds.add(record.id);
    try {
      const portArg = port === null ? null : Comlink.transfer(port, [port]);
      const specArg = moved.length === 0 ? spec : Comlink.transfer(spec, [...moved]);
      const result = await host.call<StartResult>((control) => control.spawn(specArg, portArg) as Promise<StartResult>).catch((error: unknown) => {
        if (asError(error).name === 'DataCloneError') throw new MessageNotCloneableError(record.name, 'init', error);
        throw new ActorStartError(record.name, error);
      });
      if (!result.ok) throw deserializeError(result.error);
    } catch (error) {
      host.actorIds.delete(record.id);
      void this.#pool.releaseIfEmpty(host);
      throw error;
    }
  }

  #remoteHostFor(record: ActorRecord): ActorHost {
    if (this.#remote === null) throw new InvalidActorOptionsError('placement', "'remote' needs a system made with a `remote` host provider");
    return this.#remote.hostFor(record, this.#hostApi, { onDeath: (host, cause) => this.#onHostDeath(host, cause), onExit: () => {} });
  }

  #onHostDeath(host: ActorHost, cause: Error): void {
    this.#forgetEverywhere(host);
    for (const id of host.actorIds) {
      const record = this.#records.get(id);
      if (record !== undefined) this.#onCrash(id, cause);
    }
    host.actorIds.clear();
  }

  /**
   * Every other live host drops its socket to a host that died, so refs there to its actors
   * reconnect through this system (to where they restart) instead of writing into a socket that
   * no one reads. NOTE: a remote node declared dead may only be stopped (SIGSTOP): its sockets
   * stay open, and only this thread's own socket to it is closed by its death. Sent before the
   * crashes are handled, so it leaves ahead of any restart.
   */
  #forgetEverywhere(dead: ActorHost): void {
    const address = dead.knownAddress;
    if (address === null) return;
    const others = [...this.#pool.hosts, ...(this.#remote?.hosts ?? [])].filter((h) => h !== dead && h.alive);
    for (const host of others) host.call((control) => control.forget(address)).catch(() => undefined);
  }

  #onCrash(actorId: string, cause: Error): void {
    const record = this.#records.get(actorId);
    if (record === undefined || (record.state !== 'running' && record.state !== 'restarting')) return;
    record.lastCause = cause;
    const decision = record.tracker.onCrash(Date.now());
    this.events.emit('crashed', { name: record.name, cause, willRestart: decision.kind === 'restart' });
    if (decision.kind === 'escalate') {
      this.events.emit('escalated', { name: record.name, cause, restarts: decision.restarts });
      void this.#killRecord(record).then(() => this.#finishStop(record, 'escalated', null));
      return;
    }
    setRecordState(record, 'restarting');
    record.restartTimer = setTimeout(() => void this.#restart(record, decision.attempt, decision.delayMs), decision.delayMs);
  }

  async #restart(record: ActorRecord, attempt: number, delayMs: number): Promise<void> {
    record.restartTimer = null;
    if (record.state !== 'restarting') return;
    const host = record.host;
    try {
      if (host !== null && host.alive && host.actorIds.has(record.id)) {
        const result = await host.call<StartResult>((control) => control.restart(record.id) as Promise<StartResult>);
        if (!result.ok) throw deserializeError(result.error);
      } else {
        record.incarnation++;
        await this.#startIn(record, null);
      }
    } catch (error) {
      if (record.state === 'restarting') this.#onCrash(record.id, asError(error));
      return;
    }
    if (record.state !== 'restarting') return;
    setRecordState(record, 'running');
    this.events.emit('restarted', { name: record.name, attempt, delayMs });
  }

  #onSelfStop(actorId: string, error: Error | null): void {
    const record = this.#records.get(actorId);
    if (record === undefined || record.state === 'stopped') return;
    record.stopError = error;
    if (record.state === 'stopping') {
      record.onStopped?.();
      return;
    }
    record.host?.actorIds.delete(actorId);
    this.#finishStop(record, 'stopped', error);
  }

  /**
   * Graceful stop. With `via` (the caller's ref) the request travels on that ref's data port, so
   * the caller's earlier messages are handled first; otherwise on the control plane.
   */
  async #stopRecord(record: ActorRecord, timeoutMs: number, reason: StopReason, via?: Link): Promise<void> {
    if (record.state === 'stopping' || record.state === 'stopped') return;
    const wasRunning = record.state === 'running';
    setRecordState(record, 'stopping');
    const host = record.host;
    if (wasRunning && host !== null && host.alive) {
      const reported = new Promise<void>((resolve) => (record.onStopped = resolve));
      const requested = via !== undefined && via.requestStop();
      const stopped = requested ? Promise.race([reported, host.call(() => reported)]) : host.call((control) => control.stop(record.id));
      if (!(await waitAtMost(stopped, timeoutMs))) await this.#killRecord(record);
      record.onStopped = null;
    } else {
      await this.#killRecord(record);
    }
    this.#finishStop(record, reason, record.stopError);
  }

  /** Ends the actor without draining; terminates its thread when it is the only tenant. */
  async #killRecord(record: ActorRecord): Promise<void> {
    if (record.restartTimer !== null) clearTimeout(record.restartTimer);
    record.restartTimer = null;
    if (record.state !== 'stopping') setRecordState(record, 'stopping');
    const host = record.host;
    if (host === null || !host.alive) return;
    if (host.actorIds.size <= 1) {
      host.actorIds.delete(record.id);
      await this.#pool.releaseIfEmpty(host);
      return;
    }
    await host.call((control) => control.kill(record.id)).catch(() => {});
  }

  #finishStop(record: ActorRecord, reason: StopReason, error: Error | null): void {
    if (record.state === 'stopped') return;
    setRecordState(record, 'stopped');
    this.#records.delete(record.id);
    if (this.#names.get(record.name) === record.id) this.#names.delete(record.name);
    const host = record.host;
    if (host !== null) {
      host.actorIds.delete(record.id);
      void this.#pool.releaseIfEmpty(host);
    }
    this.events.emit('stopped', { name: record.name, reason, error });
  }
}
