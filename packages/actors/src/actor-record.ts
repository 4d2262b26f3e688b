/**
 * The system's bookkeeping for one actor: its spec, supervision state and life state, plus small
 * helpers the system uses around it. Invariant: `changed` resolves (and is replaced) on every
 * state change, so waiters (ref reconnects) can wait for "something happened" without polling.
 */
import { InvalidActorOptionsError } from './errors.js';
import type { ActorHost } from './actor-host.js';
import type { ActorSpec, MailboxOptions, Placement } from './protocol.js';
import { RestartTracker, type SupervisionPolicy } from './supervision.js';

/** Life state of an actor as the system sees it. */
export type RecordState = 'starting' | 'running' | 'restarting' | 'stopping' | 'stopped';

/** One actor, as tracked by the system. */
export interface ActorRecord {
  readonly id: string;
  readonly name: string;
  readonly spec: Omit<ActorSpec, 'init' | 'initRefs' | 'incarnation'>;
  readonly init: unknown;
  readonly group: string | null;
  readonly placement: Placement;
  /** Extra argv of the actor's process (placement 'process'). */
  readonly processArgs: readonly string[];
  readonly tracker: RestartTracker;
  state: RecordState;
  incarnation: number;
  host: ActorHost | null;
  lastCause: Error | null;
  restartTimer: NodeJS.Timeout | null;
  /** Set while a graceful stop waits for the worker to report the actor stopped. */
  onStopped: (() => void) | null;
  /** What `onStop` threw, as reported by the worker. */
  stopError: Error | null;
  changed: Promise<void>;
  signalChange: () => void;
}

/** Mailbox bound when none is given. */
export const DEFAULT_MAILBOX: MailboxOptions = { capacity: 10_000, overflow: 'reject' };

/** Fills mailbox defaults; throws `InvalidActorOptionsError` naming the bad field. */
export function resolveMailbox(options: Partial<MailboxOptions> | undefined): MailboxOptions {
  const capacity = options?.capacity ?? DEFAULT_MAILBOX.capacity;
  const overflow = options?.overflow ?? DEFAULT_MAILBOX.overflow;
  if (!Number.isInteger(capacity) || capacity < 1) {
    throw new InvalidActorOptionsError('mailbox.capacity', `expected an integer >= 1, got ${String(capacity)}`);
  }
  if (overflow !== 'reject' && overflow !== 'drop-oldest') {
    throw new InvalidActorOptionsError('mailbox.overflow', `expected 'reject' or 'drop-oldest', got ${String(overflow)}`);
  }
  return { capacity, overflow };
}

/** Validates the placement options; throws `InvalidActorOptionsError` naming the bad field. */
export function resolvePlacement(placement: unknown, processArgs: unknown): { placement: Placement; processArgs: readonly string[] } {
  const resolved = placement ?? 'thread';
  if (resolved !== 'thread' && resolved !== 'process' && resolved !== 'remote') {
    throw new InvalidActorOptionsError('placement', `expected 'thread', 'process' or 'remote', got ${JSON.stringify(placement)}`);
  }
  if (processArgs === undefined) return { placement: resolved, processArgs: [] };
  if (!Array.isArray(processArgs) || !processArgs.every((arg) => typeof arg === 'string')) {
    throw new InvalidActorOptionsError('processArgs', 'expected an array of strings');
  }
  if (resolved !== 'process') throw new InvalidActorOptionsError('processArgs', "only applies with placement 'process'");
  return { placement: resolved, processArgs: [...(processArgs as string[])] };
}

/** Any thrown value as an Error. */
export function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}

/** Resolves after `ms` or when `promise` settles, whichever is first; leaves no timer behind. */
export async function waitAtMost(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([promise.then(() => true, () => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** What `createRecord` needs. */
export interface RecordInput extends Omit<ActorSpec, 'init' | 'initRefs' | 'incarnation'> {
  readonly init: unknown;
  readonly group: string | null;
  readonly placement: Placement;
  readonly processArgs: readonly string[];
  readonly supervision: SupervisionPolicy;
}

/** A new record in state `starting`, incarnation 1. */
export function createRecord(input: RecordInput): ActorRecord {
  const { init, group, placement, processArgs, supervision, ...spec } = input;
  const record: ActorRecord = {
    id: spec.id,
    name: spec.name,
    spec,
    init,
    group,
    placement,
    processArgs,
    tracker: new RestartTracker(supervision),
    state: 'starting',
    incarnation: 1,
    host: null,
    lastCause: null,
    restartTimer: null,
    onStopped: null,
    stopError: null,
    changed: Promise.resolve(),
    signalChange: () => {},
  };
  setRecordState(record, 'starting');
  return record;
}

/** Moves `record` to `state` and wakes everyone waiting on `record.changed`. */
export function setRecordState(record: ActorRecord, state: RecordState): void {
  record.state = state;
  const signal = record.signalChange;
  record.changed = new Promise<void>((resolve) => (record.signalChange = resolve));
  signal();
}
