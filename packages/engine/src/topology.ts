/**
 * Topology: spawns the actors of one engine mode on worker threads and wires their refs together.
 *  - disaggregated: P prefill + D decode actors (one worker each), the scheduler and the length
 *    predictor (light: they share one "control" worker);
 *  - colocated / chunked: N colocated actors + the scheduler;
 *  - single: one colocated actor with batch size 1 (the plain one-request-at-a-time reference).
 * Every model actor attaches the same SharedArrayBuffer pool, so handoffs move block ids only.
 */
import type { ActorRef, ActorSystem, Ask, Message, SupervisionOptions } from '@baton/actors';
import type { BlockPool } from '@baton/kv-cache';
import type { EngineOptions } from './engine-options.js';
import type {
  ClientMsg, ColocatedInit, ColocatedMsg, DecodeInit, DecodeMsg, ModelSetup, PredictorMsg, PrefillInit, PrefillMsg,
  SchedulerInit, SchedulerMsg, ServingActorStats, ServingLimits,
} from './protocol.js';
import type { PredictorInit } from './actors/length-predictor-actor.js';

/** Every serving actor answers `stats`. */
export type StatsProtocol = Ask<{ type: 'stats' }, ServingActorStats>;

/** Refs of a running engine's actors. */
export interface Topology {
  scheduler: ActorRef<SchedulerMsg>;
  /** Every model-running actor, for stats. */
  serving: ActorRef<StatsProtocol>[];
  /** Sends the scheduler its routing refs again (after a restart it starts with none). */
  rewire: () => Promise<void>;
  /** Pool owner id of each model-running actor, by actor name. */
  owners: ReadonlyMap<string, number>;
}

/** What spawning needs. */
export interface TopologyDeps {
  system: ActorSystem;
  options: EngineOptions;
  setup: ModelSetup;
  pool: BlockPool;
  client: ActorRef<ClientMsg>;
}

const actorModule = (file: string): URL => new URL(`./actors/${file}`, import.meta.url);
const SUPERVISION: SupervisionOptions = { maxRestarts: 3, withinMs: 60_000 };

/** Spawns and wires every actor of `options.mode`. */
export async function spawnTopology(deps: TopologyDeps): Promise<Topology> {
  const { system, options } = deps;
  const scheduler = await spawnScheduler(deps);
  const limits: ServingLimits = {
    maxBatch: options.mode === 'single' ? 1 : options.maxBatch,
    tokenBudget: options.tokenBudget,
    handoffTimeoutMs: options.handoffTimeoutMs,
  };
  const faults = options.faults;
  const faultFlags = new SharedArrayBuffer(4 * Math.max(1, faults.crashes.length));
  const common = { setup: deps.setup, pool: deps.pool.handle, limits, client: deps.client, scheduler, faults, faultFlags, threadNice: null };
  const owners = new Map<string, number>();
  const many = <P extends Message, I>(n: number, file: string, name: string, init: (index: number, owner: number) => I): Promise<ActorRef<P>[]> =>
    Promise.all(Array.from({ length: n }, (_, index) => {
      const owner = owners.size;
      owners.set(`${name}-${index}`, owner);
      return system.spawn<P, I>({ module: actorModule(file), name: `${name}-${index}`, init: init(index, owner), supervision: SUPERVISION });
    }));
  if (options.mode === 'disaggregated') {
    const decode = await many<DecodeMsg, DecodeInit>(options.decode, 'decode-actor.js', 'decode', (index, owner) => ({ ...common, index, owner }));
    const prefill = await many<PrefillMsg, PrefillInit>(options.prefill, 'prefill-actor.js', 'prefill', (index, owner) => ({ ...common, index, owner, decoders: decode, threadNice: options.prefillNice }));
    const predictor = await system.spawn<PredictorMsg, PredictorInit>({
      module: actorModule('length-predictor-actor.js'), name: 'length-predictor', init: { seed: 0, fails: faults.predictorFails }, group: CONTROL_GROUP,
    });
    const rewire = (): Promise<void> => scheduler.ask({ type: 'wire', prefill, decode, colocated: [], predictor });
    await rewire();
    return { scheduler, serving: [...prefill, ...decode].map(asStatsRef), rewire, owners };
  }
  const count = options.mode === 'single' ? 1 : options.colocated;
  const chunked = options.mode === 'chunked';
  const colocated = await many<ColocatedMsg, ColocatedInit>(count, 'colocated-actor.js', options.mode, (index, owner) => ({ ...common, index, owner, chunked }));
  const rewire = (): Promise<void> => scheduler.ask({ type: 'wire', prefill: [], decode: [], colocated, predictor: null });
  await rewire();
  return { scheduler, serving: colocated.map(asStatsRef), rewire, owners };
}

/** The light control-plane actors (scheduler, length predictor) share one worker. */
const CONTROL_GROUP = 'control';

async function spawnScheduler(deps: TopologyDeps): Promise<ActorRef<SchedulerMsg>> {
  const o = deps.options;
  const init: SchedulerInit = {
    pool: deps.pool.handle,
    client: deps.client,
    admission: { slo: o.slo, maxQueuedRequests: o.queue.maxRequests, maxQueuedPromptTokens: o.queue.maxPromptTokens },
    blockSize: o.kv.blockSize,
    maxBatch: o.maxBatch,
    priorTokensPerSecond: 20_000,
  };
  return deps.system.spawn<SchedulerMsg, SchedulerInit>({ module: actorModule('scheduler-actor.js'), name: 'scheduler', init, group: CONTROL_GROUP });
}

/** NOTE: every serving protocol includes the `stats` ask; refs are contravariant in their protocol, hence the cast. */
function asStatsRef(ref: ActorRef<PrefillMsg> | ActorRef<DecodeMsg> | ActorRef<ColocatedMsg>): ActorRef<StatsProtocol> {
  return ref as unknown as ActorRef<StatsProtocol>;
}
