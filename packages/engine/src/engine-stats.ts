/**
 * EngineStats: what `engine.stats()` reports, and the helpers that assemble it — the placeholder
 * stats of an actor that never answered, and every KV pool of the engine added up.
 *
 * Invariant: a placeholder names its actor's role from the actor's name and reports no work.
 */
import type { PoolStats } from '@baton/kv-cache';
import type { BackendName } from '@baton/model';
import type { EngineOptions } from './engine-options.js';
import type { RunSummary } from './metrics.js';
import type { SchedulerStats, ServingActorStats } from './protocol.js';
import type { PlannerStats } from './elastic-protocol.js';

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

/** Stats of an actor that never answered. */
export function placeholderStats(name: string): ServingActorStats {
  const role: ServingActorStats['role'] = name.startsWith('prefill') ? 'prefill' : name.startsWith('decode') ? 'decode' : 'colocated';
  return {
    name, role, activity: 'unresponsive', queueLength: 0, running: 0, kvBlocksUsed: 0, utilization: 0, steps: 0, meanBatchSize: null,
    maxBatchSize: 0, tokensProcessed: 0, preemptions: 0, backend: 'unknown', tensors: 0, ownPool: null, pid: 0, tiers: null, memory: null,
  };
}

/** Pool statistics added field by field. */
export function sumPoolStats(all: readonly PoolStats[]): PoolStats {
  const sum = (key: keyof PoolStats): number => all.reduce((n, p) => n + p[key], 0);
  return {
    total: sum('total'), free: sum('free'), used: sum('used'), cached: sum('cached'), indexed: sum('indexed'),
    hits: sum('hits'), misses: sum('misses'), evictions: sum('evictions'),
  };
}
