/**
 * Elastic prefill:decode options: whether serving instances may change role while the engine
 * serves, who decides (nobody, the caller through `engine.flip`, or the planner actor), how a
 * decode instance gives up its running sequences, the bounds on each role's count and on the
 * instances in all (above the starting count the planner spawns instances, and retires them again
 * when idle), and the planner's window, interval, cooldown and thresholds.
 *
 * Invariants: the bounds always admit the starting split (minPrefill <= prefill <= maxPrefill, the
 * same for decode, prefill + decode <= maxInstances) and keep at least one instance of each role;
 * every violation is an InvalidOptionsError naming the option by its dotted path.
 */
import { InvalidOptionsError } from './errors.js';
import { oneOf, posInt, posNumber, record, rejectUnknown } from './option-checks.js';

/**
 * `fixed`: roles never change (the default, the engine as it always was); `manual`: each instance
 * can hold either role and changes it when `engine.flip` says so; `planner`: as manual, and the
 * planner actor flips instances to keep both SLOs.
 */
export type ElasticMode = 'fixed' | 'manual' | 'planner';

/** What a decode instance does with its running sequences when it flips to prefill. */
export type FlipPolicy = 'handover' | 'drain';

/** Resolved elastic options. */
export interface ElasticOptions {
  mode: ElasticMode;
  /** `handover`: running sequences move to other decode instances over the KV handoff; `drain`: they finish where they are. */
  policy: FlipPolicy;
  minPrefill: number;
  maxPrefill: number;
  minDecode: number;
  maxDecode: number;
  /**
   * Live instances in all. Above the starting prefill + decode (the default: no spawning) the
   * planner may spawn an instance (a new thread or process) of a role that misses its SLO when no
   * instance can be flipped to it, and retires spawned capacity when both SLOs hold with room.
   */
  maxInstances: number;
  /** Sliding window of the planner's TTFT / TPOT attainment, ms. */
  windowMs: number;
  /** How often the planner looks, ms. */
  intervalMs: number;
  /** Least time between two flips the planner decides, ms (a flip back the other way waits twice as long). */
  cooldownMs: number;
  /** Requests a window needs before attainment counts. */
  minSamples: number;
  /** A role whose attainment is below this is short of instances (0..1). */
  lowAttainment: number;
  /** An instance is taken only from a role whose attainment is at least this (0..1, >= lowAttainment). */
  highAttainment: number;
  /** The planner's targets; null: the engine's `slo` (which also drives early rejection). */
  slo: { ttftMs: number; tpotMs: number } | null;
}

/** Elastic options as a caller writes them (every field optional). */
export type ElasticOptionsInput = Partial<ElasticOptions>;

const MODES: readonly ElasticMode[] = ['fixed', 'manual', 'planner'];
const POLICIES: readonly FlipPolicy[] = ['handover', 'drain'];
const KEYS = ['mode', 'policy', 'minPrefill', 'maxPrefill', 'minDecode', 'maxDecode', 'maxInstances', 'windowMs', 'intervalMs', 'cooldownMs', 'minSamples', 'lowAttainment', 'highAttainment', 'slo'];

/** Defaults for an engine starting with `prefill` + `decode` instances (and at most `maxInstances`). */
export function defaultElastic(prefill: number, decode: number, maxInstances = prefill + decode): ElasticOptions {
  const total = Math.max(maxInstances, prefill + decode);
  return {
    mode: 'fixed', policy: 'handover', minPrefill: 1, maxPrefill: total - 1, minDecode: 1, maxDecode: total - 1, maxInstances: total,
    windowMs: 4_000, intervalMs: 500, cooldownMs: 2_000, minSamples: 8, lowAttainment: 0.9, highAttainment: 0.95, slo: null,
  };
}

/** Validates `elastic` against the starting split; throws InvalidOptionsError naming the bad field. */
export function resolveElastic(value: unknown, prefill: number, decode: number): ElasticOptions {
  if (value === undefined) return defaultElastic(prefill, decode);
  const o = record(value, 'elastic');
  rejectUnknown(o, KEYS, 'elastic.');
  const maxInstances = posInt(o.maxInstances ?? prefill + decode, 'elastic.maxInstances');
  if (maxInstances < prefill + decode) {
    throw new InvalidOptionsError('elastic.maxInstances', `(${maxInstances}) is below the starting instance count (${prefill} prefill + ${decode} decode)`);
  }
  const d = defaultElastic(prefill, decode, maxInstances);
  const e: ElasticOptions = {
    mode: oneOf(o.mode ?? d.mode, MODES, 'elastic.mode'),
    policy: oneOf(o.policy ?? d.policy, POLICIES, 'elastic.policy'),
    minPrefill: posInt(o.minPrefill ?? d.minPrefill, 'elastic.minPrefill'),
    maxPrefill: posInt(o.maxPrefill ?? d.maxPrefill, 'elastic.maxPrefill'),
    minDecode: posInt(o.minDecode ?? d.minDecode, 'elastic.minDecode'),
    maxDecode: posInt(o.maxDecode ?? d.maxDecode, 'elastic.maxDecode'),
    maxInstances,
    windowMs: posNumber(o.windowMs ?? d.windowMs, 'elastic.windowMs'),
    intervalMs: posNumber(o.intervalMs ?? d.intervalMs, 'elastic.intervalMs'),
    cooldownMs: posNumber(o.cooldownMs ?? d.cooldownMs, 'elastic.cooldownMs'),
    minSamples: posInt(o.minSamples ?? d.minSamples, 'elastic.minSamples'),
    lowAttainment: fraction(o.lowAttainment ?? d.lowAttainment, 'elastic.lowAttainment'),
    highAttainment: fraction(o.highAttainment ?? d.highAttainment, 'elastic.highAttainment'),
    slo: o.slo === undefined || o.slo === null ? null : targets(o.slo),
  };
  checkBound(e.minPrefill, prefill, e.maxPrefill, 'Prefill', 'prefill');
  checkBound(e.minDecode, decode, e.maxDecode, 'Decode', 'decode');
  if (e.highAttainment < e.lowAttainment) {
    throw new InvalidOptionsError('elastic.highAttainment', `(${e.highAttainment}) must be at least elastic.lowAttainment (${e.lowAttainment}): the gap is the hysteresis`);
  }
  return e;
}

/** True when instances may change role (each one then holds both a prefill and a decode actor). */
export function isElastic(e: ElasticOptions): boolean {
  return e.mode !== 'fixed';
}

function checkBound(min: number, start: number, max: number, role: string, option: string): void {
  if (min > start) throw new InvalidOptionsError(`elastic.min${role}`, `(${min}) exceeds the starting ${option} count (${start})`);
  if (max < start) throw new InvalidOptionsError(`elastic.max${role}`, `(${max}) is below the starting ${option} count (${start})`);
}

function targets(value: unknown): { ttftMs: number; tpotMs: number } {
  const t = record(value, 'elastic.slo');
  rejectUnknown(t, ['ttftMs', 'tpotMs'], 'elastic.slo.');
  return { ttftMs: posNumber(t.ttftMs, 'elastic.slo.ttftMs'), tpotMs: posNumber(t.tpotMs, 'elastic.slo.tpotMs') };
}

function fraction(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 1) {
    throw new InvalidOptionsError(name, `must be a number in [0, 1], got ${String(value)}`);
  }
  return value;
}
