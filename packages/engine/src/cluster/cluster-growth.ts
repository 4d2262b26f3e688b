/**
 * `ClusterGrowth`: workers that register while the engine serves get new work. When a worker the
 * registry has not seen before is accepted, and — once a restart waiting for a node has had the
 * chance to take it — its role still has free slots on live workers, one more actor of that role
 * is added to the topology (`Topology.grow`: it is spawned there and the scheduler routes to it).
 * Workers that leave need nothing here: their actors crash (a SIGTERM ends them, a lost host is
 * declared dead), the scheduler routes around them, and they restart on a worker with a free slot.
 * Invariants: one growth at a time; a failed growth (the worker left meanwhile) is logged, never
 * thrown; nothing grows after `close()`. A restarted prefill actor is told every decode actor.
 */
import type { ActorSystem, NatsRemoteHosts, RestartedEvent } from '@baton/actors';
import type { Topology } from '../topology.js';
import type { ClusterRegistry, RegisteredWorker } from './cluster-registry.js';
import type { WorkerRole } from './worker-registration.js';

/** How long a joining worker is left to pending restarts before its free slots are used. */
const SETTLE_MS = 1_000;

/** What growth works with. */
export interface ClusterGrowthDeps {
  readonly registry: ClusterRegistry;
  readonly hosts: NatsRemoteHosts;
  readonly topology: Pick<Topology, 'grow' | 'resendDecoders'>;
  readonly system: ActorSystem;
  readonly log: (message: string) => void;
}

/** Adds actors for late-joining workers of one engine. */
export class ClusterGrowth {
  readonly #deps: ClusterGrowthDeps;
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #onRestarted = (e: RestartedEvent): void => {
    if (e.name.startsWith('prefill-')) void this.#deps.topology.resendDecoders();
  };
  readonly #offJoin: () => void;
  #queue: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(deps: ClusterGrowthDeps) {
    this.#deps = deps;
    this.#offJoin = deps.registry.onJoin((worker) => this.#joined(worker));
    deps.system.events.on('restarted', this.#onRestarted);
  }

  /** Stops growing (pending checks are dropped). */
  close(): void {
    this.#closed = true;
    this.#offJoin();
    this.#deps.system.events.off('restarted', this.#onRestarted);
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }

  #joined(worker: RegisteredWorker): void {
    if (this.#closed || this.#deps.topology.grow === null) return;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      this.#queue = this.#queue.then(() => this.#fill(worker.registration.role));
    }, SETTLE_MS);
    timer.unref();
    this.#timers.add(timer);
  }

  /** Adds actors of `role` while live workers of that role have free slots. */
  async #fill(role: WorkerRole): Promise<void> {
    const grow = this.#deps.topology.grow;
    while (!this.#closed && grow !== null && this.#freeSlots(role) > 0) {
      try {
        const name = await grow(role);
        this.#deps.log(`a ${role} worker joined: ${name} now serves on it`);
      } catch (error) {
        this.#deps.log(`a ${role} worker joined but no actor could start on it: ${(error as Error).message}`);
        return;
      }
    }
  }

  #freeSlots(role: WorkerRole): number {
    const { registry, hosts } = this.#deps;
    const load = hosts.load;
    return registry.workers(role, hosts.live).reduce((n, w) => n + Math.max(0, w.registration.capacity.slots - (load.get(w.nodeId) ?? 0)), 0);
  }
}
