/**
 * `engine.spawn` and `engine.retire`'s bodies: validate the request, ask the scheduler to add an
 * instance of a role (or to retire one) and wait until its record shows the new instance serving
 * (or the old one gone and its actors stopped).
 *
 * Invariants: nothing is asked of the scheduler for a bad request or fixed roles; a refusal is a
 * ScaleRefusedError and changes nothing; giving up waiting (timeout, engine closing) leaves the
 * change going on — only the caller stops waiting.
 */
import type { ActorRef } from '@baton/actors';
import { engineNow } from './clock.js';
import type { ScaleRecord, ServingRole } from './elastic-protocol.js';
import { EngineClosedError, EngineError, InvalidRequestError } from './errors.js';
import type { SchedulerMsg } from './protocol.js';
import { ScaleRefusedError } from './scale-refused-error.js';

/** What `engine.spawn` asks for. */
export interface SpawnRequest {
  /** The role the new instance serves. */
  role: ServingRole;
  /** Give up waiting after this long (default 120 000 ms: a new instance loads its model; the spawn itself goes on). */
  timeoutMs?: number;
}

/** What `engine.retire` asks for. */
export interface RetireRequest {
  /** The live instance to retire. */
  instance: number;
  /** Give up waiting after this long (default 60 000 ms; the retirement itself goes on). */
  timeoutMs?: number;
}

/** What the scale calls need from the engine. */
export interface ScaleDeps {
  elastic: boolean;
  closing: () => boolean;
  /** Resolves once the engine finished every spawn and removal asked so far. */
  settled: () => Promise<void>;
}

const POLL_MS = 10;
const ASK_TIMEOUT_MS = 5_000;

/** Validates, asks, waits; see `Engine.spawn`. */
export async function spawnInstance(scheduler: ActorRef<SchedulerMsg>, request: SpawnRequest, deps: ScaleDeps): Promise<ScaleRecord> {
  const r: unknown = request;
  if (typeof r !== 'object' || r === null) throw new InvalidRequestError('spawn', 'must be an object { role }');
  const { role, timeoutMs = 120_000 } = request;
  if (role !== 'prefill' && role !== 'decode') throw new InvalidRequestError('role', `must be 'prefill' or 'decode', got ${String(role)}`);
  checkTimeout(timeoutMs);
  if (!deps.elastic) throw new ScaleRefusedError('spawn', `a ${role} instance`, "roles are fixed (set elastic.mode to 'manual' or 'planner')");
  const decidedMs = engineNow();
  const reply = await scheduler.ask({ type: 'grow', role, reason: 'api', decidedMs }, { timeoutMs: ASK_TIMEOUT_MS });
  if (!reply.accepted) throw new ScaleRefusedError('spawn', `a ${role} instance`, reply.reason);
  return waitFor(scheduler, { action: 'spawn', instance: reply.instance, decidedMs }, decidedMs + timeoutMs, deps, `spawn of instance ${reply.instance} (${role})`);
}

/** Validates, asks, waits (until its actors stopped too); see `Engine.retire`. */
export async function retireInstance(scheduler: ActorRef<SchedulerMsg>, request: RetireRequest, deps: ScaleDeps): Promise<ScaleRecord> {
  const r: unknown = request;
  if (typeof r !== 'object' || r === null) throw new InvalidRequestError('retire', 'must be an object { instance }');
  const { instance, timeoutMs = 60_000 } = request;
  if (!Number.isSafeInteger(instance) || instance < 0) throw new InvalidRequestError('instance', `must be an integer >= 0, got ${String(instance)}`);
  checkTimeout(timeoutMs);
  if (!deps.elastic) throw new ScaleRefusedError('retire', `instance ${instance}`, "roles are fixed (set elastic.mode to 'manual' or 'planner')");
  const decidedMs = engineNow();
  const reply = await scheduler.ask({ type: 'shrink', instance, reason: 'api', decidedMs }, { timeoutMs: ASK_TIMEOUT_MS });
  if (!reply.accepted) throw new ScaleRefusedError('retire', `instance ${instance}`, reply.reason);
  const record = await waitFor(scheduler, { action: 'retire', instance, decidedMs }, decidedMs + timeoutMs, deps, `retirement of instance ${instance}`);
  await deps.settled();
  return record;
}

async function waitFor(
  scheduler: ActorRef<SchedulerMsg>, want: Pick<ScaleRecord, 'action' | 'instance' | 'decidedMs'>, deadline: number, deps: ScaleDeps, what: string,
): Promise<ScaleRecord> {
  while (engineNow() < deadline) {
    if (deps.closing()) throw new EngineClosedError();
    const stats = await scheduler.ask({ type: 'stats' }, { timeoutMs: ASK_TIMEOUT_MS });
    const done = stats.elastic?.scaling.find((s) => s.action === want.action && s.instance === want.instance && s.decidedMs === want.decidedMs);
    if (done !== undefined) return done;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  throw new EngineError(`${what} did not complete in time (it goes on)`);
}

function checkTimeout(timeoutMs: unknown): void {
  if (typeof timeoutMs !== 'number' || !(timeoutMs > 0)) throw new InvalidRequestError('timeoutMs', `must be a positive number, got ${String(timeoutMs)}`);
}
