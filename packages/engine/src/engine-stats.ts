/**
 * EngineStats: what `engine.stats()` reports, and how it is gathered — the scheduler's, every
 * serving actor's and the planner's numbers asked at once, each KV pool and their sum.
 *
 * Invariants: metrics never block on a frozen worker (an actor that is down, or answers late, is
 * reported from its last heartbeat stats with activity `unresponsive`; one that never answered as
 * a placeholder naming its role from its name, with no work).
 */
import type { BlockPool, PoolStats } from '@baton/kv-cache';
import type { BackendName } from '@baton/model';
import type { EngineOptions } from './engine-options.js';
import { EngineClosedError } from './errors.js';
import type { HealthMonitor } from './health-monitor.js';
import type { RunSummary } from './metrics.js';
import type { SchedulerStats, ServingActorStats } from './protocol.js';
import type { PlannerStats } from './elastic-protocol.js';
import type { Topology } from './topology.js';

/** An actor's stats answer later than this are taken from its last heartbeat. */
const STATS_TIMEOUT_MS = 2_000;
const ASK_TIMEOUT_MS = 5_000;

/** What stats are gathered from. */
export interface StatsSources {
  options: EngineOptions;
  backend: BackendName;
  topology: Topology;
  pool: BlockPool;
  health: HealthMonitor;
  closing: () => boolean;
  counts: { active: number; completed: number; retried: number; refusedQueued: number };
  summary: RunSummary;
}

/** Everything `engine.stats()` reports. */
export interface EngineStats {
  mode: EngineOptions['mode'];
  backend: BackendName;
  active: number;
  completed: number;
  /** Attempts restarted after an actor crash or a failed KV handoff. */
  retried: number;
  /** Requests refused after waiting past `queue.maxWaitMs` to start. */
  refusedQueued: number;
  /** Summary of the most recent completed requests (TTFT, TPOT, ITL, JCT distributions). */
  summary: RunSummary;
  scheduler: SchedulerStats;
  actors: ServingActorStats[];
  /** Every KV pool of the engine added up (the shared pool of its threads and each child process's own). */
  pool: PoolStats;
  /** Each KV pool on its own: `engine` (shared by the actors on threads) and one per actor in a child process. */
  pools: Array<{ name: string; stats: PoolStats }>;
  /** The planner's window and decisions (elastic mode `planner`), or null. */
  planner: PlannerStats | null;
}

/** Gathers `engine.stats()`. */
export async function collectStats(src: StatsSources): Promise<EngineStats> {
  const { topology } = src;
  const [scheduler, actors, planner] = await Promise.all([
    topology.scheduler.ask({ type: 'stats' }, { timeoutMs: ASK_TIMEOUT_MS }),
    Promise.all(topology.serving.map((ref) => actorStats(src, ref))),
    topology.planner === null ? null : topology.planner.ask({ type: 'stats' }, { timeoutMs: ASK_TIMEOUT_MS }).catch(() => null),
  ]);
  const pools = [
    ...(topology.owners.size > 0 ? [{ name: 'engine', stats: src.pool.stats() }] : []),
    ...actors.flatMap((a) => (a.ownPool === null ? [] : [{ name: a.name, stats: a.ownPool }])),
  ];
  return {
    mode: src.options.mode, backend: src.backend, ...src.counts, summary: src.summary,
    scheduler, actors, pool: sumPoolStats(pools.map((p) => p.stats)), pools, planner,
  };
}

/**
 * One actor's stats without waiting on an unhealthy one: its last known stats (activity
 * `unresponsive`) are reported instead.
 */
async function actorStats(src: StatsSources, ref: Topology['serving'][number]): Promise<ServingActorStats> {
  const last = src.health.lastStats(ref.name);
  const stale = (): ServingActorStats => ({ ...(last ?? placeholderStats(ref.name)), activity: 'unresponsive' });
  if (src.health.isDown(ref.name)) return stale();
  try {
    return await ref.ask({ type: 'stats' }, { timeoutMs: STATS_TIMEOUT_MS });
  } catch {
    if (src.closing()) throw new EngineClosedError();
    // NOTE: a crashed or restarting actor is reported, not raised: stats() serves dashboards.
    return stale();
  }
}

/** Stats of an actor that never answered. */
function placeholderStats(name: string): ServingActorStats {
  const role: ServingActorStats['role'] = name.startsWith('prefill') ? 'prefill' : name.startsWith('decode') ? 'decode' : 'colocated';
  return {
    name, role, activity: 'unresponsive', queueLength: 0, running: 0, kvBlocksUsed: 0, utilization: 0, steps: 0, meanBatchSize: null,
    maxBatchSize: 0, tokensProcessed: 0, preemptions: 0, backend: 'unknown', tensors: 0, ownPool: null, pid: 0, tiers: null, memory: null,
  };
}

/** Pool statistics added field by field. */
function sumPoolStats(all: readonly PoolStats[]): PoolStats {
  const sum = (key: keyof PoolStats): number => all.reduce((n, p) => n + p[key], 0);
  return {
    total: sum('total'), free: sum('free'), used: sum('used'), cached: sum('cached'), indexed: sum('indexed'),
    hits: sum('hits'), misses: sum('misses'), evictions: sum('evictions'),
  };
}
