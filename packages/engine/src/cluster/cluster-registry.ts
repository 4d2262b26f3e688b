/**
 * `ClusterRegistry`: the scheduler side's view of the serving workers. It reads every remote
 * node's heartbeat, parses its registration, refuses a worker whose model differs from the
 * engine's (tells it on its `refused` subject, once per pid, and never places an actor there),
 * logs and ignores malformed registrations, and chooses nodes for the engine's remote actors:
 * a `prefill-<i>` / `decode-<i>` group goes to a live worker of that role with a free slot, the
 * least loaded first. `onJoin` reports workers accepted for the first time (see ClusterGrowth).
 * Invariant: liveness is the remote placement's (`NatsRemoteHosts`); this registry only filters
 * and ranks what that sees as live.
 */
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { allHeartbeats, parseHeartbeat, type NodeHeartbeat, type RemotePlacementRequest } from '@baton/actors';
import { parseWorkerRegistration, refusedSubject, type WorkerRegistration, type WorkerRole } from './worker-registration.js';

/** A registered worker. */
export interface RegisteredWorker {
  readonly nodeId: string;
  readonly pid: number;
  readonly registration: WorkerRegistration;
}

/** Workers of one cluster, for one engine. */
export class ClusterRegistry {
  readonly #nc: NatsConnection;
  readonly #prefix: string;
  readonly #model: string;
  readonly #log: (message: string) => void;
  readonly #workers = new Map<string, RegisteredWorker>();
  /** `nodeId:pid` of refused workers (told once). */
  readonly #refused = new Set<string>();
  readonly #subscription: Subscription;
  /** `nodeId:pid` of every worker accepted so far (a join is a new one). */
  readonly #seen = new Set<string>();
  readonly #joinListeners = new Set<(worker: RegisteredWorker) => void>();

  constructor(options: { connection: NatsConnection; prefix: string; model: string; log: (message: string) => void }) {
    this.#nc = options.connection;
    this.#prefix = options.prefix;
    this.#model = options.model;
    this.#log = options.log;
    this.#subscription = this.#nc.subscribe(allHeartbeats(this.#prefix), {
      callback: (error, msg) => {
        if (error !== null) return;
        let heartbeat: NodeHeartbeat;
        try {
          heartbeat = parseHeartbeat(msg.data);
        } catch {
          return; // NOTE: the remote placement logs malformed heartbeats itself.
        }
        this.#onHeartbeat(heartbeat);
      },
    });
  }

  /** Resolves once the broker has the subscription. */
  ready(): Promise<void> {
    return this.#nc.flush();
  }

  /** Accepted workers of `role` among `live` nodes. */
  workers(role: WorkerRole, live: readonly NodeHeartbeat[]): RegisteredWorker[] {
    const ids = new Set(live.map((h) => `${h.node}:${h.pid}`));
    return [...this.#workers.values()].filter((w) => w.registration.role === role && ids.has(`${w.nodeId}:${w.pid}`));
  }

  /** The `select` of `NatsRemoteHosts`: a live worker of the group's role with a free slot, least loaded first. */
  select(actor: RemotePlacementRequest, live: readonly NodeHeartbeat[], load: ReadonlyMap<string, number>): string | null {
    const role = roleOfGroup(actor.group ?? actor.name);
    if (role === null) return null;
    const candidates = this.workers(role, live).filter((w) => (load.get(w.nodeId) ?? 0) < w.registration.capacity.slots);
    candidates.sort((a, b) => (load.get(a.nodeId) ?? 0) - (load.get(b.nodeId) ?? 0) || a.nodeId.localeCompare(b.nodeId));
    return candidates[0]?.nodeId ?? null;
  }

  /** Calls `listener` for each worker accepted from now on that was never accepted before; returns the unsubscribe. */
  onJoin(listener: (worker: RegisteredWorker) => void): () => void {
    this.#joinListeners.add(listener);
    return () => this.#joinListeners.delete(listener);
  }

  close(): void {
    this.#joinListeners.clear();
    if (!this.#nc.isClosed()) this.#subscription.unsubscribe();
  }

  #onHeartbeat(h: NodeHeartbeat): void {
    let registration: WorkerRegistration;
    try {
      registration = parseWorkerRegistration(h.meta);
    } catch (error) {
      this.#workers.delete(h.node);
      this.#log(`ignored a registration from node '${h.node}': ${(error as Error).message}`);
      return;
    }
    if (registration.model !== this.#model) {
      this.#workers.delete(h.node);
      const key = `${h.node}:${h.pid}`;
      if (this.#refused.has(key)) return;
      this.#refused.add(key);
      const reason = `worker '${h.node}' serves model '${registration.model}', but this scheduler serves '${this.#model}'`;
      this.#log(`refused: ${reason}`);
      this.#nc.publish(refusedSubject(this.#prefix, h.node), JSON.stringify({ reason }));
      return;
    }
    const worker: RegisteredWorker = { nodeId: h.node, pid: h.pid, registration };
    this.#workers.set(h.node, worker);
    const key = `${h.node}:${h.pid}`;
    if (this.#seen.has(key)) return;
    this.#seen.add(key);
    for (const listener of this.#joinListeners) listener(worker);
  }
}

/** `prefill-3` -> 'prefill'; anything else -> null. */
function roleOfGroup(group: string): WorkerRole | null {
  if (group.startsWith('prefill-')) return 'prefill';
  if (group.startsWith('decode-')) return 'decode';
  return null;
}
