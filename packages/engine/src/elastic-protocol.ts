/**
 * Shapes of elastic prefill:decode that cross threads: an instance's role and state, the record of
 * one flip (with its cost) and of one instance spawned or retired, the scheduler's answer to a flip,
 * what a retiring decode actor may hand its sequences to, what the planner reads and what it
 * decided, the role table the engine keeps a copy of (restored into a restarted scheduler), and the
 * elastic messages between the scheduler and the engine. Plain, cloneable data only.
 */
import type { Ask } from '@baton/actors';
import type { FlipPolicy, ElasticMode } from './elastic-options.js';

/** The two roles an elastic instance can hold. */
export type ServingRole = 'prefill' | 'decode';

/** One instance (a worker thread or child process holding a prefill and a decode actor). */
export interface InstanceState {
  index: number;
  /** The role it serves (while flipping: the role it is giving up). */
  role: ServingRole;
  /** The role it is flipping to, or null when it serves (or retires). */
  flippingTo: ServingRole | null;
  /** It is retiring: its role is handed over or drained, then its actors stop. */
  retiring: boolean;
}

/** One completed or refused flip. */
export interface FlipRecord {
  instance: number;
  from: ServingRole;
  to: ServingRole;
  /** Why (the planner's reason, or "api" for `engine.flip`). */
  reason: string;
  policy: FlipPolicy;
  /** Engine-clock ms of the decision, and of serving in the new role. */
  decidedMs: number;
  servingMs: number;
  /** servingMs - decidedMs. */
  costMs: number;
  /** Running sequences handed to other decode instances, and those left to finish in place. */
  handedOver: number;
  drained: number;
  /** Queued prompts sent back to the scheduler for another prefill instance. */
  requeued: number;
}

/** The scheduler's answer to a flip: accepted (it completes later), or refused with the reason. */
export type FlipReply = { accepted: true } | { accepted: false; reason: string };

/** The scheduler's answer to a spawn: the index the new instance will have, or why not. */
export type GrowReply = { accepted: true; instance: number } | { accepted: false; reason: string };

/** A decode instance a retiring one may hand sequences to, and the free KV blocks it had when the flip began. */
export interface MigrationTarget {
  index: number;
  freeKvBlocks: number;
}

/** One instance added (spawned: a new thread or process holding a prefill and a decode actor) or retired (its actors stopped). */
export interface ScaleRecord {
  action: 'spawn' | 'retire';
  instance: number;
  /** The role it serves from its start, or served until it retired. */
  role: ServingRole;
  reason: string;
  /** Engine-clock ms of the decision, and of the instance serving (spawn) or gone (retire). */
  decidedMs: number;
  doneMs: number;
}

/** Elastic state in `stats().scheduler.elastic`. */
export interface ElasticStats {
  mode: ElasticMode;
  /** Live instances (a retired one is gone from the list; indices are never reused). */
  instances: InstanceState[];
  prefill: number;
  decode: number;
  /** The latest flips, oldest first (bounded). */
  flips: FlipRecord[];
  /** Flips completed since start. */
  completedFlips: number;
  /** The latest instances spawned and retired, oldest first (bounded). */
  scaling: ScaleRecord[];
}

/**
 * The scheduler's role table as the engine keeps a copy of it: a restarted scheduler is given it
 * back, so it routes by the roles instances serve now, not those they started with.
 */
export interface RoleTable {
  /** Each instance's role by index; null: retired (its actors stopped) or not spawned yet. */
  roles: Array<ServingRole | null>;
  /** Changes in progress: a flip to `to`, or a retirement (`to` null). */
  pending: Array<{ instance: number; to: ServingRole | null; reason: string; decidedMs: number }>;
  /** Instances being spawned (their actors are starting). */
  spawning: Array<{ instance: number; role: ServingRole; reason: string; decidedMs: number }>;
  flips: FlipRecord[];
  completedFlips: number;
  scaling: ScaleRecord[];
}

/** What the scheduler tells the engine about elastic instances (on the client inbox). */
export type ElasticClientMsg =
  /** The role table changed (a flip began or completed, an instance was added or retired). */
  | { type: 'roles'; table: RoleTable }
  /** Spawn instance `instance` to serve `role`; answer `instanceAdded` or `spawnFailed`. */
  | { type: 'spawnInstance'; instance: number; role: ServingRole }
  /** Instance `instance` retired: stop its actors and give back what they held. */
  | { type: 'removeInstance'; instance: number };

/** The scheduler's elastic messages beyond flips. */
export type ElasticSchedulerMsg =
  /** After a restart: the role table the engine kept (its routing refs came by `wire` first). */
  | { type: 'restoreRoles'; table: RoleTable }
  /** Add an instance serving `role` (within the bounds); the reply says whether a spawn began. */
  | Ask<{ type: 'grow'; role: ServingRole; reason: string; decidedMs: number }, GrowReply>
  /** Retire instance `instance` (its role hands over or drains, then its actors stop). */
  | Ask<{ type: 'shrink'; instance: number; reason: string; decidedMs: number }, FlipReply>
  /** The engine spawned instance `instance` (its refs came by `wire` first). */
  | { type: 'instanceAdded'; instance: number }
  /** The engine could not spawn instance `instance`. */
  | { type: 'spawnFailed'; instance: number; reason: string };

/** What the planner reads from the scheduler each interval. */
export interface ElasticView {
  instances: InstanceState[];
  /** Live instances at start (the planner retires spawned capacity back down to this), and instances being spawned now. */
  baseInstances: number;
  spawning: number;
  /** First tokens of the last window (fresh attempts), engine clock: TTFT as soon as it is known, not when the request ends. */
  firstTokens: Array<{ timeMs: number; ttftMs: number }>;
  /** Per role, over its serving instances: queued requests and prompt tokens, running sequences, KV in use (0..1). */
  prefill: { queuedRequests: number; queuedPromptTokens: number; tokensPerSecond: number };
  decode: { queued: number; running: number; kvUsage: number; stepMs: number | null };
}

/** One planner decision (a flip, spawn or retirement asked of the scheduler), with its reason. */
export interface PlannerDecision {
  timeMs: number;
  /** The instance flipped, retired or spawned; null for a spawn the scheduler refused (no instance was given). */
  instance: number | null;
  /** null: a spawned instance (it served no role before). */
  from: ServingRole | null;
  /** null: the instance retires. */
  to: ServingRole | null;
  reason: string;
  /** The scheduler accepted it (false: refused, with why in `reason`). */
  accepted: boolean;
}

/** Planner statistics in `stats().planner`. */
export interface PlannerStats {
  /** Attainment over the sliding window (null below minSamples). */
  ttftAttainment: number | null;
  tpotAttainment: number | null;
  samples: number;
  /** Why the latest tick did nothing (null when it decided a flip). */
  holding: string | null;
  decisions: PlannerDecision[];
}
