/**
 * `RemoteHost`: the system's handle on one remote node (placement 'remote') — a process on some
 * host, started on its own (`startRemoteNode`), reached for control through NATS (comlink on the
 * node's `ctl.*` / `host.*` subjects) and for data through its wire-node socket, like an actor
 * process. Liveness comes from heartbeats (see `NatsRemoteHosts`): a silent node is declared
 * dead, which the system treats as the death of a child process.
 * Invariants: the death is reported once; after it every control call rejects with the cause and
 * the data-plane socket to the node is closed, so asks waiting on it reject with
 * `ActorCrashedError` instead of hanging (a stopped — SIGSTOP — node keeps its socket open);
 * `terminate()` kills the actors this system started there and leaves the node running; a
 * control call never hangs on a broker outage (see `call`).
 */
import * as Comlink from 'comlink/dist/esm/comlink.mjs';
import type { NatsConnection } from '@nats-io/transport-node';
import type { ActorHost, HostHooks } from '../actor-host.js';
import type { HostApi, WorkerControl } from '../protocol.js';
import { wireNode } from '../wire-node.js';
import { natsComlinkEndpoint, type NatsComlinkEndpoint } from './nats-comlink-endpoint.js';
import { RemoteControlUnavailableError } from './remote-errors.js';
import { nodeSubjects } from './remote-subjects.js';

/** How long `terminate()` waits for the node to confirm each kill. */
const KILL_WAIT_MS = 2_000;

/** What a remote host is made from. */
export interface RemoteHostInit {
  readonly connection: NatsConnection;
  readonly prefix: string;
  readonly nodeId: string;
  readonly address: string;
  readonly hostApi: HostApi;
  readonly hooks: HostHooks<ActorHost>;
  readonly onMalformed: (error: Error) => void;
  /** Whether the system's broker connection is up now. */
  readonly connected: () => boolean;
  /** A control call not answered within this long rejects with `RemoteControlUnavailableError`. */
  readonly controlTimeoutMs: number;
}

/** One remote node as one system sees it. */
export class RemoteHost implements ActorHost {
  readonly placement = 'remote';
  readonly actorIds = new Set<string>();
  readonly nodeId: string;
  readonly knownAddress: string;
  readonly #init: RemoteHostInit;
  readonly #control: Comlink.Remote<WorkerControl>;
  readonly #tracked: Comlink.Remote<WorkerControl>;
  readonly #endpoints: NatsComlinkEndpoint[];
  readonly #ready: Promise<void>;
  readonly #dead: Promise<never>;
  /** Actors this system started on the node (ended by `terminate()`). */
  readonly #started = new Set<string>();
  #reportDeath: (cause: Error) => void = () => {};
  #alive = true;

  constructor(init: RemoteHostInit) {
    this.#init = init;
    this.nodeId = init.nodeId;
    this.knownAddress = init.address;
    const s = nodeSubjects(init.prefix, init.nodeId);
    const control = natsComlinkEndpoint(init.connection, s.controlIn, s.controlOut, 'replies', init.onMalformed);
    const host = natsComlinkEndpoint(init.connection, s.hostOut, s.hostIn, 'requests', init.onMalformed);
    this.#endpoints = [control, host];
    this.#control = Comlink.wrap<WorkerControl>(control);
    Comlink.expose(init.hostApi, host);
    this.#ready = Promise.all([control.ready, host.ready]).then(() => {});
    this.#ready.catch(() => {});
    this.#dead = new Promise<never>((_, reject) => (this.#reportDeath = reject));
    this.#dead.catch(() => {});
    this.#tracked = this.#trackingControl();
  }

  get alive(): boolean {
    return this.#alive;
  }

  address(): Promise<string> {
    return this.#alive ? Promise.resolve(this.knownAddress) : this.#dead;
  }

  /**
   * A control call. NOTE: one made while the broker is away rejects at once, before anything is
   * published (a buffered call would run whenever the broker returns, after its caller gave up);
   * one the outage catches in flight completes after the reconnect, or rejects at its deadline.
   */
  call<T>(fn: (control: Comlink.Remote<WorkerControl>) => Promise<T>): Promise<T> {
    if (!this.#alive) return this.#dead;
    if (!this.#init.connected()) return Promise.reject(new RemoteControlUnavailableError(this.nodeId, 'the NATS broker is unreachable'));
    let timer: NodeJS.Timeout | undefined;
    const ms = this.#init.controlTimeoutMs;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new RemoteControlUnavailableError(this.nodeId, `no answer within ${ms} ms`)), ms);
      timer.unref();
    });
    return Promise.race([this.#ready.then(() => fn(this.#tracked)), this.#dead, deadline]).finally(() => clearTimeout(timer));
  }

  /** The node is gone (silent past the deadline, or fenced): report it as a host death. */
  declareDead(cause: Error): void {
    if (!this.#alive) return;
    this.#alive = false;
    this.#reportDeath(cause);
    this.#closeEndpoints();
    const nc = this.#init.connection;
    // NOTE: a node that was only paused (SIGSTOP) must not come back serving actors the system
    // already restarted elsewhere: the fence tells it to end them when it resumes.
    if (!nc.isClosed()) nc.publish(nodeSubjects(this.#init.prefix, this.nodeId).fence, new Uint8Array(0));
    this.#init.hooks.onDeath(this, cause);
    void wireNode().forget(this.knownAddress);
    this.#init.hooks.onExit(this);
  }

  /** A remote node cannot be killed from here: it is declared dead (and fenced), as a silent one. */
  abandon(cause: Error): void {
    this.declareDead(cause);
  }

  async terminate(): Promise<void> {
    if (!this.#alive) return;
    this.#alive = false;
    const kills = [...this.#started].map((id) =>
      Promise.race([this.#control.kill(id), new Promise<void>((resolve) => setTimeout(resolve, KILL_WAIT_MS).unref())]).catch(() => {}),
    );
    await Promise.all(kills);
    this.#started.clear();
    this.#closeEndpoints();
    this.#reportDeath(new Error(`remote node '${this.nodeId}' was released`));
    this.#init.hooks.onExit(this);
  }

  #closeEndpoints(): void {
    for (const endpoint of this.#endpoints) endpoint.close();
  }

  /** The control proxy, remembering which actors this system started on the node. */
  #trackingControl(): Comlink.Remote<WorkerControl> {
    const c = this.#control;
    const started = this.#started;
    const tracked: { [K in keyof WorkerControl]: (...args: Parameters<WorkerControl[K]>) => Promise<Awaited<ReturnType<WorkerControl[K]>>> } = {
      spawn: async (spec, port) => {
        if (port !== null) throw new Error('a MessagePort cannot reach a remote node');
        const result = await c.spawn(spec, null);
        if (result.ok) started.add(spec.id);
        return result;
      },
      restart: (id) => c.restart(id),
      stop: async (id) => {
        await c.stop(id);
        started.delete(id);
      },
      kill: async (id) => {
        await c.kill(id);
        started.delete(id);
      },
      attach: () => Promise.resolve(false),
      listen: () => c.listen(),
      forget: (address) => c.forget(address),
      stats: () => c.stats(),
    };
    // NOTE: the system only calls these methods; the comlink extras (release, endpoint) are unused.
    return tracked as unknown as Comlink.Remote<WorkerControl>;
  }
}
