/**
 * `HostPool`: the system's hosts — which worker threads and actor processes exist, which group
 * runs where, starting a host for a record, ending a host when its last actor leaves — and
 * `actorSpecFor`, which encodes a record's init the way its placement needs.
 * Invariants: a group maps to one live host at a time; a host that died or ended is forgotten
 * at once (a later spawn of its group starts a new one); `terminateAll()` resolves only after
 * every host it knew, including those already ending, is gone with its sockets.
 */
import type { EventEmitter } from 'eventemitter3';
import type { TransferListItem } from 'node:worker_threads';
import type { ActorHost } from './actor-host.js';
import type { ActorRecord } from './actor-record.js';
import { MessageNotCloneableError } from './errors.js';
import type { ActorSystemEvents } from './events.js';
import { ProcessHost } from './process-host.js';
import type { ActorSpec, HostApi, Placement, WireInit } from './protocol.js';
import { encodeRefs } from './ref-codec.js';
import { toWireExplained } from './wire-codec.js';
import { wireNode } from './wire-node.js';
import { WorkerHost } from './worker-host.js';

/** The spec that starts `record` in its placement, and what to transfer with it. */
export function actorSpecFor(record: ActorRecord, transfer: readonly TransferListItem[] | undefined): { spec: ActorSpec; transfer: readonly TransferListItem[] } {
  const base = { ...record.spec, incarnation: record.incarnation };
  if (record.placement === 'thread') {
    const encoded = encodeRefs(record.init, transfer, 'process');
    return { spec: { ...base, init: encoded.value, initRefs: encoded.refs }, transfer: encoded.transfer };
  }
  // NOTE: serialized here, not by the IPC channel, so a SharedArrayBuffer fails with its path
  // instead of arriving as a silent copy.
  const encoded = encodeRefs(record.init, undefined, 'wire');
  let init: WireInit;
  try {
    init = { wire: toWireExplained(encoded.value, 'init') };
  } catch (error) {
    throw new MessageNotCloneableError(record.name, 'init', error);
  }
  return { spec: { ...base, init, initRefs: encoded.refs }, transfer: [] };
}

/** The hosts of one system. */
export class HostPool {
  readonly #hostApi: HostApi;
  readonly #events: EventEmitter<ActorSystemEvents>;
  readonly #onDeath: (host: ActorHost, cause: Error) => void;
  readonly #groups = new Map<string, ActorHost>();
  readonly #hosts = new Set<ActorHost>();
  /** Hosts being terminated after their last actor left. */
  readonly #ending = new Set<Promise<void>>();

  /** `onDeath` runs when a host ends without being terminated (after the pool forgot it). */
  constructor(hostApi: HostApi, events: EventEmitter<ActorSystemEvents>, onDeath: (host: ActorHost, cause: Error) => void) {
    this.#hostApi = hostApi;
    this.#events = events;
    this.#onDeath = onDeath;
  }

  /** Every live host. */
  get hosts(): ActorHost[] {
    return [...this.#hosts];
  }

  /** The placement of `group`'s live host, or null when it has none. */
  groupPlacement(group: string): Placement | null {
    const host = this.#groups.get(group);
    return host !== undefined && host.alive ? host.placement : null;
  }

  /** The host `record` starts in: its group's live host, or a new one of its placement. */
  hostFor(record: ActorRecord): ActorHost {
    const group = record.group;
    const existing = group === null ? undefined : this.#groups.get(group);
    if (existing !== undefined && existing.alive) return existing;
    const host = record.placement === 'thread' ? this.#newWorkerHost() : this.#newProcessHost(record.processArgs);
    this.#hosts.add(host);
    if (group !== null) this.#groups.set(group, host);
    return host;
  }

  /** Ends `host` when no actor is left in it. */
  async releaseIfEmpty(host: ActorHost): Promise<void> {
    if (host.actorIds.size > 0) return;
    this.#forget(host);
    // NOTE: tracked so that terminateAll() also waits for hosts released outside its own loop.
    const ending = this.#terminate(host);
    this.#ending.add(ending);
    try {
      await ending;
    } finally {
      this.#ending.delete(ending);
    }
  }

  /** Ends every host. */
  async terminateAll(): Promise<void> {
    await Promise.all([...this.#hosts].map((host) => this.#terminate(host)));
    await Promise.all([...this.#ending]);
    this.#hosts.clear();
    this.#groups.clear();
  }

  #forget(host: ActorHost): void {
    this.#hosts.delete(host);
    for (const [group, groupHost] of this.#groups) if (groupHost === host) this.#groups.delete(group);
  }

  #died(host: ActorHost, cause: Error): void {
    this.#forget(host);
    this.#onDeath(host, cause);
  }

  #newWorkerHost(): WorkerHost {
    const host = new WorkerHost(this.#hostApi, {
      onDeath: (dead, cause) => this.#died(dead, cause),
      onExit: (ended) => this.#events.emit('workerExited', { threadId: ended.threadId, exitCode: ended.exitCode ?? 1 }),
    });
    this.#events.emit('workerStarted', { threadId: host.threadId });
    return host;
  }

  #newProcessHost(args: readonly string[]): ProcessHost {
    const hooks = {
      onDeath: (dead: ProcessHost, cause: Error) => this.#died(dead, cause),
      onExit: (ended: ProcessHost) => this.#events.emit('processExited', { pid: ended.pid, exitCode: ended.exitCode, signal: ended.signal }),
    };
    const host = new ProcessHost(this.#hostApi, hooks, { args });
    this.#events.emit('processStarted', { pid: host.pid });
    return host;
  }

  /** Ends a host and drops this thread's socket to it (its peer is gone; no socket may linger). */
  async #terminate(host: ActorHost): Promise<void> {
    await host.terminate();
    const address = host.knownAddress;
    if (address !== null) await wireNode().forget(address);
  }
}
