/**
 * FaultPlan: fault injection by configuration (no code edits), for reliability tests and demos.
 * Each crash rule fires at most once per engine, even across the actor's restarts (a shared flag).
 * Invariant: an engine without a plan runs no fault code beyond a null check per step.
 */
import { closeSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidOptionsError } from './errors.js';
import { nonNegInt, oneOf, posInt, posNumber, record, rejectUnknown } from './option-checks.js';
import type { FaultFlags } from './protocol.js';

/** Which serving actor a crash rule targets. */
export type FaultRole = 'prefill' | 'decode' | 'colocated';

/** Crash one serving actor once it has run `afterSteps` steps with work. */
export interface CrashRule {
  role: FaultRole;
  /** Actor index within its role (default 0). */
  index: number;
  afterSteps: number;
  /**
   * 'throw': the step handler throws (in-place restart); 'exit': the worker thread (or process)
   * exits; 'freeze': the actor's thread blocks forever in `Atomics.wait` (no CPU used), answering
   * nothing, as a deadlocked or stopped worker would, until health checks restart it.
   */
  kind: 'throw' | 'exit' | 'freeze';
}

/** Faults to inject. */
export interface FaultPlan {
  crashes: CrashRule[];
  /** Every Nth handoff's layers are never published, so the decode side times out (null: never). */
  dropHandoffEvery: number | null;
  /** Decode waits this long before loading each handed-off layer (0: no delay). */
  handoffDelayMs: number;
  /** The length predictor fails every prediction. */
  predictorFails: boolean;
  /** Blocks taken out of the KV pool at start and held until close (exhausts KV). */
  reserveKvBlocks: number;
}

/** No faults. */
export const NO_FAULTS: Readonly<FaultPlan> = Object.freeze({
  crashes: [],
  dropHandoffEvery: null,
  handoffDelayMs: 0,
  predictorFails: false,
  reserveKvBlocks: 0,
});

const ROLES: readonly FaultRole[] = ['prefill', 'decode', 'colocated'];
const KINDS: ReadonlyArray<CrashRule['kind']> = ['throw', 'exit', 'freeze'];

/** Validates a fault plan (`faults` option); throws InvalidOptionsError naming the field. */
export function resolveFaults(value: unknown): FaultPlan {
  if (value === undefined) return { ...NO_FAULTS, crashes: [] };
  const f = record(value, 'faults');
  rejectUnknown(f, Object.keys(NO_FAULTS), 'faults.');
  const crashes = f.crashes ?? [];
  if (!Array.isArray(crashes)) throw new InvalidOptionsError('faults.crashes', 'must be an array');
  return {
    crashes: crashes.map((c: unknown, i) => resolveCrash(c, `faults.crashes[${i}]`)),
    dropHandoffEvery: f.dropHandoffEvery === undefined || f.dropHandoffEvery === null ? null : posInt(f.dropHandoffEvery, 'faults.dropHandoffEvery'),
    handoffDelayMs: f.handoffDelayMs === undefined ? 0 : f.handoffDelayMs === 0 ? 0 : posNumber(f.handoffDelayMs, 'faults.handoffDelayMs'),
    predictorFails: bool(f.predictorFails ?? false, 'faults.predictorFails'),
    reserveKvBlocks: nonNegInt(f.reserveKvBlocks ?? 0, 'faults.reserveKvBlocks'),
  };
}

function resolveCrash(value: unknown, path: string): CrashRule {
  const c = record(value, path);
  rejectUnknown(c, ['role', 'index', 'afterSteps', 'kind'], `${path}.`);
  return {
    role: oneOf(c.role, ROLES, `${path}.role`),
    index: nonNegInt(c.index ?? 0, `${path}.index`),
    afterSteps: nonNegInt(c.afterSteps ?? 0, `${path}.afterSteps`),
    kind: oneOf(c.kind ?? 'throw', KINDS, `${path}.kind`),
  };
}

function bool(value: unknown, name: string): boolean {
  if (typeof value !== 'boolean') throw new InvalidOptionsError(name, `must be a boolean, got ${String(value)}`);
  return value;
}

/** Raised by an injected crash (so logs say it was injected). */
export class InjectedFaultError extends Error {
  constructor(what: string) {
    super(`injected fault: ${what}`);
    this.name = 'InjectedFaultError';
  }
}

/**
 * The actor-side trigger of crash rules. `fired` is a SharedArrayBuffer flag per rule, shared by
 * every incarnation of every actor, so a rule fires once even though restarts re-run the init.
 */
export class CrashTrigger {
  readonly #rules: CrashRule[];
  readonly #claim: (rule: number) => boolean;

  constructor(plan: FaultPlan, flags: FaultFlags, private readonly role: FaultRole, private readonly index: number) {
    this.#rules = plan.crashes;
    if (flags.kind === 'none') {
      this.#claim = () => false;
    } else if (flags.kind === 'memory') {
      const fired = new Int32Array(flags.flags);
      this.#claim = (i) => Atomics.compareExchange(fired, i, 0, 1) === 0;
    } else {
      this.#claim = (i) => claimMarker(join(flags.dir, `rule-${i}`));
    }
  }

  /** Crashes as a rule says, if one is due at `steps` and has not fired yet. */
  check(steps: number): void {
    this.#rules.forEach((rule, i) => {
      if (rule.role !== this.role || rule.index !== this.index || steps < rule.afterSteps) return;
      if (!this.#claim(i)) return;
      const what = `${this.role}-${this.index} crashed (${rule.kind}) after ${steps} steps`;
      if (rule.kind === 'exit') process.exit(1);
      if (rule.kind === 'freeze') freeze();
      throw new InjectedFaultError(what);
    });
  }
}

/** Blocks this thread for good: nothing ever notifies a fresh word (only termination ends it). */
function freeze(): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
}

/** Creates `path` exclusively: true for the one caller (in any process) that created it. */
function claimMarker(path: string): boolean {
  try {
    closeSync(openSync(path, 'wx'));
    return true;
  } catch {
    return false;
  }
}

/** Crash-rule flags of one engine and how to remove them at close. */
export interface FaultFlagStore {
  readonly flags: FaultFlags;
  dispose(): void;
}

/**
 * Flags for `plan`'s crash rules: shared memory when every serving actor runs on a thread of this
 * process, marker files in a fresh temporary directory when any runs in another process.
 */
export function createFaultFlags(plan: FaultPlan, acrossProcesses: boolean): FaultFlagStore {
  if (plan.crashes.length === 0) return { flags: { kind: 'none' }, dispose: () => undefined };
  if (!acrossProcesses) return { flags: { kind: 'memory', flags: new SharedArrayBuffer(4 * plan.crashes.length) }, dispose: () => undefined };
  const dir = mkdtempSync(join(tmpdir(), 'baton-faults-'));
  return { flags: { kind: 'files', dir }, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}
