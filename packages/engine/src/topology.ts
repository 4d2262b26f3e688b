/**
 * Topology: spawns the actors of one engine mode where the placement option puts them and wires
 * their refs together.
 *  - disaggregated: P prefill + D decode actors (one worker thread or child process each), the
 *    scheduler and the length predictor (light: they share one "control" worker);
 *  - colocated / chunked: N colocated actors + the scheduler;
 *  - single: one colocated actor with batch size 1 (the plain one-request-at-a-time reference).
 * Every actor on a thread attaches the engine's SharedArrayBuffer pool, so handoffs between them
 * move block ids only; an actor in a child process creates a pool of its own there, and KV reaches
 * it over the transfer stream (see kv-route.ts). The actor classes are the same in every placement.
 *
 * Elastic (`elastic.mode` manual or planner): each of the P + D instances is one worker thread or
 * child process (group `instance-<i>`) holding both a prefill actor `prefill-<i>` and a decode actor
 * `decode-<i>` that share one loaded model; the scheduler routes to whichever role the instance
 * serves. With `planner`, the planner actor joins the control group. `instances` adds an instance
 * while serving (both actors in a new thread or process; prefill actors learn its decode actor, then
 * the scheduler is rewired) and removes one (both actors stopped, its thread or process ends, its
 * pool owner id reclaimed and free for a later one). Instance indices are never reused.
 */
import type { ActorRef, ActorSystem, Ask, Message, SpawnOptions, SupervisionOptions } from '@baton/actors';
import type { BlockPool, BlockPoolOptions } from '@baton/kv-cache';
import { defaultBackendName, type BackendName } from '@baton/model';
import { actorBackend, type ActorPlacement, type EngineOptions } from './engine-options.js';
import { isElastic } from './elastic-options.js';
import { EngineError, InvalidOptionsError } from './errors.js';
import type {
  ClientMsg, ColocatedInit, ColocatedMsg, DecodeInit, DecodeMsg, FaultFlags, ModelSetup, PlannerInit, PlannerMsg, PoolSource, PredictorMsg,
  PrefillInit, PrefillMsg, SchedulerInit, SchedulerMsg, ServingActorStats, ServingLimits,
} from './protocol.js';
import type { PredictorInit } from './actors/length-predictor-actor.js';
import type { ElasticClientMsg } from './elastic-protocol.js';

/** Every serving actor answers `stats`. */
export type StatsProtocol = Ask<{ type: 'stats' }, ServingActorStats>;

/** Refs of a running engine's actors. */
export interface Topology {
  scheduler: ActorRef<SchedulerMsg>;
  /** Every model-running actor, for stats. */
  serving: ActorRef<StatsProtocol>[];
  /** Sends the scheduler its routing refs again (after a restart it starts with none). */
  rewire: () => Promise<void>;
  /** Pool owner id in the engine's pool of each model-running actor on a thread, by actor name. */
  owners: ReadonlyMap<string, number>;
  /** The planner actor (elastic mode `planner`), or null. */
  planner: ActorRef<PlannerMsg> | null;
  /**
   * On a cluster (remote placement, fixed roles): adds one more actor of `role` on a free worker,
   * for a worker that joined while serving. Prefill actors learn of a new decode actor before the
   * scheduler is rewired to route to it. Resolves with its name. Null on other topologies.
   */
  grow: ((role: 'prefill' | 'decode') => Promise<string>) | null;
  /** Tells the prefill actors every decode actor (a restarted one starts from its first init). */
  resendDecoders: () => Promise<void>;
  /** Elastic: spawns and removes instances while serving; null when roles are fixed. */
  instances: ElasticInstanceControl | null;
}

/** Adds and removes elastic instances (see the file header). */
export interface ElasticInstanceControl {
  /** Spawns instance `index` (the next index: one past the last spawned) and wires it in; resolves with its two actors. */
  spawn: (index: number) => Promise<ActorRef<StatsProtocol>[]>;
  /** Stops instance `index`'s actors and reclaims what they held in the engine's pool; resolves with their names. */
  remove: (index: number) => Promise<string[]>;
}

/** What spawning needs. */
export interface TopologyDeps {
  system: ActorSystem;
  options: EngineOptions;
  setup: Omit<ModelSetup, 'backend'>;
  pool: BlockPool;
  /** How crash rules remember they fired (memory for threads, marker files when any actor runs in a process). */
  faultFlags: FaultFlags;
  client: ActorRef<ClientMsg>;
  /** Prefill and decode actors go to remote workers (placement 'remote', one group each). */
  remote?: boolean;
  /** Elastic: the engine's inbox for the role table, spawns and retirements (null when roles are fixed). */
  elasticHost: ActorRef<ElasticClientMsg> | null;
}

const actorModule = (file: string): URL => new URL(`./actors/${file}`, import.meta.url);
const SUPERVISION: SupervisionOptions = { maxRestarts: 3, withinMs: 60_000 };
/** The spawn options that say where an actor runs. */
type PlacementSpawnOptions = Pick<SpawnOptions, 'group' | 'placement' | 'processArgs'>;

/** Pool identity of every actor on a thread of the engine's process (they attach the engine's pool). */
const SHARED_POOL_ID = 'engine';

/** The light control-plane actors (scheduler, length predictor) share one worker. */
const CONTROL_GROUP = 'control';

/** Spawns and wires every actor of `options.mode`. */
export async function spawnTopology(deps: TopologyDeps): Promise<Topology> {
  const { system, options } = deps;
  const scheduler = await spawnScheduler(deps);
  const limits: ServingLimits = {
    maxBatch: options.mode === 'single' ? 1 : options.maxBatch,
    tokenBudget: options.tokenBudget,
    handoffTimeoutMs: options.handoffTimeoutMs,
  };
  const common = { limits, client: deps.client, scheduler, faults: options.faults, faultFlags: deps.faultFlags, threadNice: null, cache: options.cache };
  const owners = new Map<string, number>();
  // NOTE: owner ids of removed instances are taken again first (the pool has maxOwners of them).
  const freeOwners: number[] = [];
  let nextOwner = 0;
  const elastic = options.mode === 'disaggregated' && isElastic(options.elastic);
  type InitOf<I> = (index: number, base: typeof common & { index: number; owner: number; pool: PoolSource; poolId: string; setup: ModelSetup; modelKey: string }) => I;
  const many = <P extends Message, I>(
    n: number, file: string, name: string, role: 'prefill' | 'decode' | 'colocated', placement: ActorPlacement, init: InitOf<I>,
  ): Promise<ActorRef<P>[]> => Promise.all(Array.from({ length: n }, (_, index) => one<P, I>(index, file, name, role, placement, init)));
  const one = <P extends Message, I>(
    index: number, file: string, name: string, role: 'prefill' | 'decode' | 'colocated', placement: ActorPlacement, init: InitOf<I>,
  ): Promise<ActorRef<P>> => {
    const actor = `${name}-${index}`;
    const onThread = placement === 'thread';
    const owner = onThread ? freeOwners.pop() ?? nextOwner++ : 0;
    if (onThread) owners.set(actor, owner);
    const pool: PoolSource = onThread ? { kind: 'shared', handle: deps.pool.handle } : { kind: 'own', options: ownPoolOptions(options, deps.pool) };
    const setup: ModelSetup = { ...deps.setup, backend: concreteBackend(actorBackend(options, role, index)) };
    const spawn: SpawnOptions<I> = {
      module: actorModule(file), name: actor,
      init: init(index, { ...common, index, owner, pool, poolId: onThread ? SHARED_POOL_ID : actor, setup, modelKey: elastic ? `instance-${index}` : actor }),
      supervision: SUPERVISION,
      ...(deps.remote === true && role !== 'colocated' ? { placement: 'remote' as const, group: `${role}-${index}` } : elastic ? instancePlacement(placement, index) : placementOptions(placement, role, index)),
    };
    return system.spawn<P, I>(spawn);
  };
  /** A stopped actor's references in the engine's pool are reclaimed and its owner id is free again. */
  const releaseOwner = (actor: string): void => {
    const owner = owners.get(actor);
    if (owner === undefined) return;
    owners.delete(actor);
    deps.pool.cancelHandoffsOf(owner);
    deps.pool.reclaimOwner(owner);
    freeOwners.push(owner);
  };
  const place = options.placement;
  if (options.mode === 'disaggregated') {
    if (elastic) checkElasticPlacement(options, deps.remote === true);
    // NOTE: elastic instances hold both roles, so there are P + D actors of each.
    const instances = options.prefill + options.decode;
    // NOTE: a decode actor listens for KV streams only when some prefill actor cannot share its pool.
    const kvEndpoint = place.prefill === 'process' || place.decode === 'process';
    const decodeInit: InitOf<DecodeInit> = (_i, base) => ({ ...base, kvEndpoint });
    const decode = await many<DecodeMsg, DecodeInit>(elastic ? instances : options.decode, 'decode-actor.js', 'decode', 'decode', place.decode, decodeInit);
    const prefillInit: InitOf<PrefillInit> = (_i, base) => ({ ...base, decoders: [...decode], threadNice: options.prefillNice });
    const prefill = await many<PrefillMsg, PrefillInit>(elastic ? instances : options.prefill, 'prefill-actor.js', 'prefill', 'prefill', place.prefill, prefillInit);
    const predictor = await system.spawn<PredictorMsg, PredictorInit>({
      module: actorModule('length-predictor-actor.js'), name: 'length-predictor', init: { seed: 0, fails: options.faults.predictorFails },
      ...controlPlacement(place.predictor),
    });
    const rewire = (): Promise<void> => scheduler.ask({ type: 'wire', prefill, decode, colocated: [], predictor });
    await rewire();
    const planner = options.elastic.mode === 'planner' ? await spawnPlanner(deps, scheduler) : null;
    const serving = [...prefill, ...decode].map(asStatsRef);
    // NOTE: an unanswered ask (a prefill actor down or restarting) is not waited for: it is told again when it restarts.
    const resendDecoders = async (): Promise<void> => {
      await Promise.all(prefill.map((p) => p.ask({ type: 'decoders', decoders: [...decode] }, { timeoutMs: 5_000 }).catch(() => undefined)));
    };
    const grow = deps.remote !== true || elastic ? null : async (role: 'prefill' | 'decode'): Promise<string> => {
      if (role === 'decode') {
        const ref = await one<DecodeMsg, DecodeInit>(decode.length, 'decode-actor.js', 'decode', 'decode', place.decode, decodeInit);
        decode.push(ref);
        serving.push(asStatsRef(ref));
        await resendDecoders();
        await rewire();
        return ref.name;
      }
      const ref = await one<PrefillMsg, PrefillInit>(prefill.length, 'prefill-actor.js', 'prefill', 'prefill', place.prefill, prefillInit);
      prefill.push(ref);
      serving.push(asStatsRef(ref));
      await rewire();
      return ref.name;
    };
    const control: ElasticInstanceControl | null = !elastic ? null : {
      spawn: async (index) => {
        if (index !== decode.length) throw new EngineError(`elastic instance ${index} cannot be spawned: the next one is ${decode.length}`);
        const d = await one<DecodeMsg, DecodeInit>(index, 'decode-actor.js', 'decode', 'decode', place.decode, decodeInit);
        const p = await one<PrefillMsg, PrefillInit>(index, 'prefill-actor.js', 'prefill', 'prefill', place.prefill, prefillInit).catch(async (e: unknown) => {
          // NOTE: half an instance is stopped again, so the ref lists stay indexed by instance.
          await system.stop(d);
          releaseOwner(d.name);
          throw e;
        });
        decode.push(d);
        prefill.push(p);
        const added = [asStatsRef(p), asStatsRef(d)];
        serving.push(...added);
        await resendDecoders();
        await rewire();
        return added;
      },
      remove: async (index) => {
        const refs = [prefill[index], decode[index]].filter((r) => r !== undefined).map(asStatsRef);
        await Promise.all(refs.map((r) => system.stop(r)));
        for (const r of refs) {
          const at = serving.findIndex((s) => s.name === r.name);
          if (at >= 0) serving.splice(at, 1);
          releaseOwner(r.name);
        }
        return refs.map((r) => r.name);
      },
    };
    return { scheduler, serving, rewire, owners, planner, grow, resendDecoders, instances: control };
  }
  const count = options.mode === 'single' ? 1 : options.colocated;
  const chunked = options.mode === 'chunked';
  const colocated = await many<ColocatedMsg, ColocatedInit>(count, 'colocated-actor.js', options.mode, 'colocated', place.colocated, (_i, base) => ({ ...base, chunked }));
  const rewire = (): Promise<void> => scheduler.ask({ type: 'wire', prefill: [], decode: [], colocated, predictor: null });
  await rewire();
  return { scheduler, serving: colocated.map(asStatsRef), rewire, owners, planner: null, grow: null, resendDecoders: () => Promise.resolve(), instances: null };
}

/** The planner actor, in the control group (it only reads the scheduler and measured latencies). */
async function spawnPlanner(deps: TopologyDeps, scheduler: ActorRef<SchedulerMsg>): Promise<ActorRef<PlannerMsg>> {
  const o = deps.options;
  // NOTE: resolveOptions refuses the planner without SLO targets.
  const slo = o.elastic.slo ?? o.slo ?? { ttftMs: 1_000, tpotMs: 100 };
  return deps.system.spawn<PlannerMsg, PlannerInit>({
    module: actorModule('planner-actor.js'), name: 'planner', init: { scheduler, options: o.elastic, slo }, supervision: SUPERVISION,
    ...controlPlacement(o.placement.scheduler),
  });
}

/** Elastic instances run where prefill and decode both run: one thread or one process holds both actors. */
function checkElasticPlacement(o: EngineOptions, remote: boolean): void {
  if (remote) throw new InvalidOptionsError('elastic.mode', `'${o.elastic.mode}' is not available on a cluster: remote workers register for one role`);
  if (o.placement.prefill !== o.placement.decode) {
    throw new InvalidOptionsError('placement', `elastic instances hold both roles, so prefill and decode need one placement (got prefill '${o.placement.prefill}', decode '${o.placement.decode}')`);
  }
}

/** An elastic instance's group: its prefill and decode actors share one worker thread or one child process. */
function instancePlacement(placement: ActorPlacement, index: number): PlacementSpawnOptions {
  if (placement === 'thread') return { group: `instance-${index}` };
  return { placement: 'process', group: `instance-${index}`, processArgs: ['--role', 'instance', '--index', String(index)] };
}

async function spawnScheduler(deps: TopologyDeps): Promise<ActorRef<SchedulerMsg>> {
  const o = deps.options;
  const routesOnShared = o.mode === 'disaggregated' ? o.placement.prefill === 'thread' : o.placement.colocated === 'thread';
  // NOTE: the scheduler reads prefix-cache credit in the pool its prefill actors use; it can only do
  // that when it shares their process (both on threads of the engine's process).
  const sharesPool = routesOnShared && o.placement.scheduler === 'thread';
  const init: SchedulerInit = {
    pool: sharesPool ? deps.pool.handle : null,
    totalKvBlocks: o.kv.numBlocks,
    client: deps.client,
    admission: { slo: o.slo, maxQueuedRequests: o.queue.maxRequests, maxQueuedPromptTokens: o.queue.maxPromptTokens },
    blockSize: o.kv.blockSize,
    maxBatch: o.maxBatch,
    priorTokensPerSecond: 20_000,
    routing: o.routing,
    cacheEnabled: o.cache.enabled,
    elastic: o.mode === 'disaggregated' && isElastic(o.elastic)
      ? { roles: Array.from({ length: o.prefill + o.decode }, (_, i) => (i < o.prefill ? 'prefill' : 'decode')), options: o.elastic, host: elasticHost(deps) }
      : null,
  };
  return deps.system.spawn<SchedulerMsg, SchedulerInit>({
    module: actorModule('scheduler-actor.js'), name: 'scheduler', init, ...controlPlacement(o.placement.scheduler),
  });
}

/** The engine's elastic inbox (createEngine makes one whenever roles are elastic). */
function elasticHost(deps: TopologyDeps): ActorRef<ElasticClientMsg> {
  if (deps.elasticHost === null) throw new InvalidOptionsError('elastic.mode', 'elastic instances need the engine\'s elastic inbox');
  return deps.elasticHost;
}

/** Spawn options for a serving actor: its own thread, or its own child process named after its role. */
function placementOptions(placement: ActorPlacement, role: string, index: number): PlacementSpawnOptions {
  if (placement === 'thread') return {};
  return { placement: 'process', group: `${role}-${index}`, processArgs: ['--role', role, '--index', String(index)] };
}

/** The control actors share one worker thread, or one child process. */
function controlPlacement(placement: ActorPlacement): PlacementSpawnOptions {
  if (placement === 'thread') return { group: CONTROL_GROUP };
  return { placement: 'process', group: CONTROL_GROUP, processArgs: ['--role', 'control', '--index', '0'] };
}

/** The pool an actor in a child process creates: the engine pool's geometry, one owner. */
function ownPoolOptions(options: EngineOptions, pool: BlockPool): BlockPoolOptions {
  const g = pool.geometry;
  return {
    blockSize: g.blockSize, layers: g.layers, heads: g.heads, headDim: g.headDim, totalBlocks: options.kv.numBlocks,
    handoffSlots: g.handoffSlots, maxOwners: 1,
  };
}

function concreteBackend(b: ReturnType<typeof actorBackend>): BackendName {
  return b === 'auto' ? defaultBackendName() : b;
}

/** NOTE: every serving protocol includes the `stats` ask; refs are contravariant in their protocol, hence the cast. */
function asStatsRef(ref: ActorRef<PrefillMsg> | ActorRef<DecodeMsg> | ActorRef<ColocatedMsg>): ActorRef<StatsProtocol> {
  return ref as unknown as ActorRef<StatsProtocol>;
}
