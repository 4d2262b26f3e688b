/**
 * `NatsRemoteHosts`: the `RemoteHostProvider` over NATS. It watches every node's heartbeat
 * (`<prefix>.node.*.hb`), keeps the live ones, places a group on a node chosen by `select`
 * (default: the group's previous node if it is alive, else the live node with the fewest of this
 * system's actors), and declares a node dead once it has been silent for `deadAfterMs`.
 * Invariants: silence is only counted while this system's own broker connection is up — while
 * the broker is away nobody hears anybody, so on reconnect every node gets a fresh window instead
 * of being declared dead (actors keep serving meanwhile: the data plane does not use the broker);
 * a node is declared dead only if it is still silent after a round trip to the broker (heartbeats
 * that queued unread while this process was busy count); a malformed heartbeat is reported to
 * `log` and ignored; a dead node is not chosen again until it sends a heartbeat with a new pid.
 */
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { ActorHost, HostHooks } from '../actor-host.js';
import type { HostApi } from '../protocol.js';
import { NoRemoteNodeError, RemoteNodeLostError } from './remote-errors.js';
import type { RemoteHostProvider, RemotePlacementRequest } from './remote-host-provider.js';
import { RemoteHost } from './remote-host.js';
import { allHeartbeats, DEFAULT_SUBJECT_PREFIX, parseHeartbeat, type NodeHeartbeat } from './remote-subjects.js';

/** Options of `NatsRemoteHosts`. */
export interface NatsRemoteHostsOptions {
  readonly connection: NatsConnection;
  /** Subject prefix (default 'baton'). */
  readonly prefix?: string;
  /** A node silent this long is declared dead (default 3000 ms). */
  readonly deadAfterMs?: number;
  /** Picks a node for an actor among the live ones (null: none fits). */
  readonly select?: (actor: RemotePlacementRequest, live: readonly NodeHeartbeat[], load: ReadonlyMap<string, number>) => string | null;
  /** Where malformed traffic and deaths are reported (default: console.warn). */
  readonly log?: (message: string) => void;
  /** A control call (spawn, stop, kill…) unanswered this long fails as retryable (default 15 000 ms). */
  readonly controlTimeoutMs?: number;
}

interface NodeState {
  heartbeat: NodeHeartbeat;
  lastSeen: number;
}

/** Remote hosts found through NATS heartbeats. */
export class NatsRemoteHosts implements RemoteHostProvider {
  readonly #nc: NatsConnection;
  readonly #prefix: string;
  readonly #deadAfterMs: number;
  readonly #select: NonNullable<NatsRemoteHostsOptions['select']>;
  readonly #log: (message: string) => void;
  readonly #controlTimeoutMs: number;
  readonly #nodes = new Map<string, NodeState>();
  /** pid of each node declared dead: its later heartbeats are ignored unless the pid changes. */
  readonly #dead = new Map<string, number>();
  readonly #hosts = new Map<string, RemoteHost>();
  readonly #groups = new Map<string, string>();
  readonly #subscription: Subscription;
  readonly #timer: NodeJS.Timeout;
  #connected = true;
  /** A sweep's broker round trip is in flight (see `#sweep`). */
  #confirming = false;

  constructor(options: NatsRemoteHostsOptions) {
    this.#nc = options.connection;
    this.#prefix = options.prefix ?? DEFAULT_SUBJECT_PREFIX;
    this.#deadAfterMs = options.deadAfterMs ?? 3_000;
    this.#select = options.select ?? ((actor, live, load) => this.#defaultSelect(actor, live, load));
    this.#log = options.log ?? ((message) => console.warn(message));
    this.#controlTimeoutMs = options.controlTimeoutMs ?? 15_000;
    this.#subscription = this.#nc.subscribe(allHeartbeats(this.#prefix), {
      callback: (error, msg) => {
        if (error !== null) return;
        try {
          this.#onHeartbeat(parseHeartbeat(msg.data));
        } catch (cause) {
          this.#log(`ignored a message on ${msg.subject}: ${(cause as Error).message}`);
        }
      },
    });
    void this.#watchStatus();
    this.#timer = setInterval(() => this.#sweep(), Math.max(10, Math.min(250, this.#deadAfterMs / 4)));
    this.#timer.unref();
  }

  /** Resolves once the broker has the heartbeat subscription. */
  ready(): Promise<void> {
    return this.#nc.flush();
  }

  /** The live nodes' latest heartbeats. */
  get live(): NodeHeartbeat[] {
    return [...this.#nodes.values()].map((n) => n.heartbeat);
  }

  /** Actors this system runs on each node it placed some on, by node id. */
  get load(): ReadonlyMap<string, number> {
    return new Map([...this.#hosts].map(([id, host]) => [id, host.actorIds.size]));
  }

  get hosts(): ActorHost[] {
    return [...this.#hosts.values()].filter((host) => host.alive);
  }

  hostFor(actor: RemotePlacementRequest, hostApi: HostApi, hooks: HostHooks<ActorHost>): ActorHost {
    const previous = actor.group === null ? undefined : this.#groups.get(actor.group);
    const existing = previous === undefined ? undefined : this.#hosts.get(previous);
    if (existing !== undefined && existing.alive) return existing;
    const nodeId = this.#select(actor, this.live, this.load);
    const node = nodeId === null ? undefined : this.#nodes.get(nodeId);
    if (nodeId === null || node === undefined) throw new NoRemoteNodeError(actor.name, actor.group);
    if (actor.group !== null) this.#groups.set(actor.group, nodeId);
    let host = this.#hosts.get(nodeId);
    if (host === undefined || !host.alive) {
      host = new RemoteHost({
        connection: this.#nc, prefix: this.#prefix, nodeId, address: node.heartbeat.address, hostApi,
        hooks: {
          onDeath: (dead, cause) => {
            this.#forget(nodeId, dead);
            hooks.onDeath(dead, cause);
          },
          onExit: (ended) => {
            this.#forget(nodeId, ended);
            hooks.onExit(ended);
          },
        },
        onMalformed: (error) => this.#log(`ignored: ${error.message}`),
        connected: () => this.#connected,
        controlTimeoutMs: this.#controlTimeoutMs,
      });
      this.#hosts.set(nodeId, host);
    }
    return host;
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await Promise.all([...this.#hosts.values()].map((host) => host.terminate()));
    this.#hosts.clear();
    if (!this.#nc.isClosed()) this.#subscription.unsubscribe();
  }

  #forget(nodeId: string, host: ActorHost): void {
    if (this.#hosts.get(nodeId) === host) this.#hosts.delete(nodeId);
  }

  #onHeartbeat(h: NodeHeartbeat): void {
    const deadPid = this.#dead.get(h.node);
    if (deadPid !== undefined) {
      if (deadPid === h.pid) return;
      this.#dead.delete(h.node);
    }
    const known = this.#nodes.get(h.node);
    if (known !== undefined && known.heartbeat.pid !== h.pid) this.#declareDead(h.node, 'restarted with a new pid');
    this.#nodes.set(h.node, { heartbeat: h, lastSeen: Date.now() });
  }

  #sweep(): void {
    if (!this.#connected || this.#confirming) return;
    const now = Date.now();
    const silent = [...this.#nodes].filter(([, node]) => now - node.lastSeen > this.#deadAfterMs).map(([id]) => id);
    if (silent.length === 0) return;
    // NOTE: a silence may be this process's own: while its event loop was blocked (a long
    // synchronous step) heartbeats waited unread in its socket, and this timer runs before they
    // are read. A round trip to the broker delivers everything sent before it, so only the nodes
    // still silent once it returns are declared dead.
    this.#confirming = true;
    this.#nc.flush().then(
      () => {
        this.#confirming = false;
        if (!this.#connected) return;
        const t = Date.now();
        for (const id of silent) {
          const node = this.#nodes.get(id);
          if (node !== undefined && t - node.lastSeen > this.#deadAfterMs) this.#declareDead(id, `silent for ${t - node.lastSeen} ms`);
        }
      },
      // NOTE: the broker went away meanwhile: `#watchStatus` gives every node a fresh window on reconnect.
      () => (this.#confirming = false),
    );
  }

  #declareDead(nodeId: string, why: string): void {
    const node = this.#nodes.get(nodeId);
    if (node === undefined) return;
    this.#nodes.delete(nodeId);
    this.#dead.set(nodeId, node.heartbeat.pid);
    const host = this.#hosts.get(nodeId);
    if (host === undefined) return;
    this.#log(`remote node '${nodeId}' declared dead (${why})`);
    host.declareDead(new RemoteNodeLostError(nodeId, Date.now() - node.lastSeen));
  }

  async #watchStatus(): Promise<void> {
    for await (const status of this.#nc.status()) {
      if (status.type === 'disconnect') this.#connected = false;
      else if (status.type === 'reconnect') {
        this.#connected = true;
        const now = Date.now();
        for (const node of this.#nodes.values()) node.lastSeen = now;
      }
    }
  }

  #defaultSelect(actor: RemotePlacementRequest, live: readonly NodeHeartbeat[], load: ReadonlyMap<string, number>): string | null {
    void actor;
    let best: string | null = null;
    for (const h of live) if (best === null || (load.get(h.node) ?? 0) < (load.get(best) ?? 0)) best = h.node;
    return best;
  }
}
