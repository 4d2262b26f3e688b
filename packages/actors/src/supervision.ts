/**
 * Supervision policy: how the system answers a crash. Pure bookkeeping (no timers): the system
 * asks `RestartTracker.onCrash(now)` and schedules what it is told.
 */
import { InvalidActorOptionsError } from './errors.js';

/** How an actor's crashes are handled. */
export interface SupervisionOptions {
  /** `restart` (default) re-creates the actor; `stop` stops it and escalates at the first crash. */
  readonly strategy?: 'restart' | 'stop';
  /** Most restarts within `withinMs` before the actor is stopped and escalated (default 3). */
  readonly maxRestarts?: number;
  /** Width of the restart-counting window in ms (default 60 000). */
  readonly withinMs?: number;
  /** Exponential backoff between restarts: initialMs × factor^(n−1), capped at maxMs. */
  readonly backoff?: { readonly initialMs?: number; readonly maxMs?: number; readonly factor?: number };
}

/** `SupervisionOptions` with every default filled in. */
export interface SupervisionPolicy {
  readonly strategy: 'restart' | 'stop';
  readonly maxRestarts: number;
  readonly withinMs: number;
  readonly initialMs: number;
  readonly maxMs: number;
  readonly factor: number;
}

/** The supervisor's answer to one crash. */
export type CrashDecision =
  | { readonly kind: 'restart'; readonly attempt: number; readonly delayMs: number }
  | { readonly kind: 'escalate'; readonly restarts: number };

function nonNegative(value: number | undefined, fallback: number, option: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new InvalidActorOptionsError(option, `expected a finite number >= 0, got ${String(value)}`);
  }
  return value;
}

/** Fills defaults and validates; throws `InvalidActorOptionsError` naming the bad field. */
export function resolveSupervision(options: SupervisionOptions | undefined): SupervisionPolicy {
  const strategy = options?.strategy ?? 'restart';
  if (strategy !== 'restart' && strategy !== 'stop') {
    throw new InvalidActorOptionsError('supervision.strategy', `expected 'restart' or 'stop', got ${String(strategy)}`);
  }
  const factor = nonNegative(options?.backoff?.factor, 2, 'supervision.backoff.factor');
  if (factor < 1) throw new InvalidActorOptionsError('supervision.backoff.factor', `expected >= 1, got ${factor}`);
  return {
    strategy,
    maxRestarts: Math.floor(nonNegative(options?.maxRestarts, 3, 'supervision.maxRestarts')),
    withinMs: nonNegative(options?.withinMs, 60_000, 'supervision.withinMs'),
    initialMs: nonNegative(options?.backoff?.initialMs, 100, 'supervision.backoff.initialMs'),
    maxMs: nonNegative(options?.backoff?.maxMs, 10_000, 'supervision.backoff.maxMs'),
    factor,
  };
}

/** Counts one actor's restarts in a sliding window and decides restart vs escalate. */
export class RestartTracker {
  readonly #policy: SupervisionPolicy;
  #restarts: number[] = [];

  constructor(policy: SupervisionPolicy) {
    this.#policy = policy;
  }

  onCrash(now: number): CrashDecision {
    const { strategy, maxRestarts, withinMs, initialMs, maxMs, factor } = this.#policy;
    this.#restarts = this.#restarts.filter((at) => now - at < withinMs);
    if (strategy === 'stop' || this.#restarts.length >= maxRestarts) {
      return { kind: 'escalate', restarts: this.#restarts.length };
    }
    this.#restarts.push(now);
    const attempt = this.#restarts.length;
    return { kind: 'restart', attempt, delayMs: Math.min(maxMs, initialMs * factor ** (attempt - 1)) };
  }
}
