/**
 * ElasticHost: the engine's side of elastic instances, on the caller's thread. It keeps the copy
 * of the scheduler's role table that a restarted scheduler gets back (`restoreRoles`, after its
 * routing refs), spawns the instances the scheduler asks for (then says `instanceAdded`, or
 * `spawnFailed`) and stops the ones that retired, so their thread or process ends and their KV
 * references return to the pool.
 *
 * Invariants: spawns and removals run one at a time, in the order asked (instance indices are
 * handed out in order, so the topology's ref lists stay indexed by instance); nothing is spawned or
 * stopped once the engine closes.
 */
import type { ActorRef } from '@baton/actors';
import type { ElasticClientMsg, RoleTable } from './elastic-protocol.js';
import type { SchedulerMsg } from './protocol.js';
import type { HealthMonitor } from './health-monitor.js';
import type { ElasticInstanceControl, StatsProtocol, Topology } from './topology.js';

/** What the host works with. */
export interface ElasticHostDeps {
  scheduler: ActorRef<SchedulerMsg>;
  instances: ElasticInstanceControl;
  /** A spawned instance's actors join (health checks, stats); a removed one's leave. */
  added: (refs: readonly ActorRef<StatsProtocol>[]) => void;
  removed: (names: readonly string[]) => void;
  closing: () => boolean;
}

/** The engine's elastic inbox handler (see the file header). */
export class ElasticHost {
  #table: RoleTable | null = null;
  #queue: Promise<void> = Promise.resolve();

  constructor(private readonly deps: ElasticHostDeps) {}

  /** The host of an engine's topology (null when roles are fixed); spawned actors join `health`, removed ones leave it. */
  static forEngine(topology: Topology, health: HealthMonitor, closing: () => boolean): ElasticHost | null {
    const instances = topology.instances;
    if (instances === null) return null;
    return new ElasticHost({
      scheduler: topology.scheduler,
      instances,
      added: (refs) => {
        for (const ref of refs) health.watch(ref);
      },
      removed: (names) => {
        for (const name of names) health.forget(name);
      },
      closing,
    });
  }

  /** The latest role table the scheduler published, or null before the first change. */
  get table(): RoleTable | null {
    return this.#table;
  }

  /** One message from the scheduler. */
  receive(msg: ElasticClientMsg): void {
    if (msg.type === 'roles') {
      this.#table = msg.table;
      return;
    }
    this.#queue = this.#queue.then(() => (msg.type === 'spawnInstance' ? this.#spawn(msg.instance) : this.#remove(msg.instance)));
  }

  /** A restarted scheduler starts from its first init: it gets the roles instances serve now. */
  restore(): void {
    if (this.#table !== null) this.deps.scheduler.tell({ type: 'restoreRoles', table: this.#table });
  }

  /** Resolves once every spawn and removal asked so far is done. */
  settled(): Promise<void> {
    return this.#queue;
  }

  async #spawn(instance: number): Promise<void> {
    if (this.deps.closing()) return;
    try {
      const refs = await this.deps.instances.spawn(instance);
      this.deps.added(refs);
      this.deps.scheduler.tell({ type: 'instanceAdded', instance });
    } catch (e) {
      this.deps.scheduler.tell({ type: 'spawnFailed', instance, reason: e instanceof Error ? e.message : String(e) });
    }
  }

  async #remove(instance: number): Promise<void> {
    if (this.deps.closing()) return;
    const names = await this.deps.instances.remove(instance).catch(() => []);
    this.deps.removed(names);
  }
}
