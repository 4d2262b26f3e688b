/**
 * Shapes of elastic prefill:decode that cross threads: an instance's role and state, the record of
 * one flip (with its cost), the scheduler's answer to a flip, what a retiring decode actor may hand
 * its sequences to, what the planner reads and what it decided. Plain, cloneable data only.
 */
import type { FlipPolicy, ElasticMode } from './elastic-options.js';

/** The two roles an elastic instance can hold. */
export type ServingRole = 'prefill' | 'decode';

/** One instance (a worker thread or child process holding a prefill and a decode actor). */
export interface InstanceState {
  index: number;
  /** The role it serves (while flipping: the role it is giving up). */
  role: ServingRole;
  /** The role it is flipping to, or null when it serves. */
  flippingTo: ServingRole | null;
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

/** A decode instance a retiring one may hand sequences to, and the free KV blocks it had when the flip began. */
export interface MigrationTarget {
  index: number;
  freeKvBlocks: number;
}

/** Elastic state in `stats().scheduler.elastic`. */
export interface ElasticStats {
  mode: ElasticMode;
  instances: InstanceState[];
  prefill: number;
  decode: number;
  /** The latest flips, oldest first (bounded). */
  flips: FlipRecord[];
  /** Flips completed since start. */
  completedFlips: number;
}

/** What the planner reads from the scheduler each interval. */
export interface ElasticView {
  instances: InstanceState[];
  /** Per role, over its serving instances: queued requests and prompt tokens, running sequences, KV in use (0..1). */
  prefill: { queuedRequests: number; queuedPromptTokens: number; tokensPerSecond: number };
  decode: { queued: number; running: number; kvUsage: number; stepMs: number | null };
}

/** One planner decision (a flip asked of the scheduler), with its reason. */
export interface PlannerDecision {
  timeMs: number;
  instance: number;
  from: ServingRole;
  to: ServingRole;
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
