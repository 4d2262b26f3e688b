/**
 * `engine.flip`'s body: validates a flip request, asks the scheduler for the flip and waits until
 * its record shows the instance serving in the new role.
 *
 * Invariants: nothing is asked of the scheduler for a bad request or fixed roles; a refusal is a
 * FlipRefusedError and changes nothing; giving up waiting (timeout, engine closing) leaves the flip
 * going on — only the caller stops waiting.
 */
import type { ActorRef } from '@baton/actors';
import { engineNow } from './clock.js';
import type { FlipRecord, ServingRole } from './elastic-protocol.js';
import { EngineClosedError, EngineError, InvalidRequestError } from './errors.js';
import { FlipRefusedError } from './flip-refused-error.js';
import type { SchedulerMsg } from './protocol.js';

/** What `engine.flip` asks for. */
export interface FlipRequest {
  /** The elastic instance (0 .. prefill + decode - 1). */
  instance: number;
  to: ServingRole;
  /** Give up waiting for the flip to complete after this long (default 60 000 ms; the flip itself goes on). */
  timeoutMs?: number;
}

/** How often the flip's completion is looked for. */
const FLIP_POLL_MS = 10;
const ASK_TIMEOUT_MS = 5_000;

/** Validates, asks, waits; see `Engine.flip`. */
export async function flipInstance(
  scheduler: ActorRef<SchedulerMsg>, request: FlipRequest, deps: { elastic: boolean; closing: () => boolean },
): Promise<FlipRecord> {
  const r: unknown = request;
  if (typeof r !== 'object' || r === null) throw new InvalidRequestError('flip', 'must be an object { instance, to }');
  const { instance, to, timeoutMs = 60_000 } = request;
  if (!Number.isSafeInteger(instance) || instance < 0) throw new InvalidRequestError('instance', `must be an integer >= 0, got ${String(instance)}`);
  if (to !== 'prefill' && to !== 'decode') throw new InvalidRequestError('to', `must be 'prefill' or 'decode', got ${String(to)}`);
  if (typeof timeoutMs !== 'number' || !(timeoutMs > 0)) throw new InvalidRequestError('timeoutMs', `must be a positive number, got ${String(timeoutMs)}`);
  if (!deps.elastic) throw new FlipRefusedError(instance, "roles are fixed (set elastic.mode to 'manual' or 'planner')");
  const decidedMs = engineNow();
  const reply = await scheduler.ask({ type: 'flip', instance, to, reason: 'api', decidedMs }, { timeoutMs: ASK_TIMEOUT_MS });
  if (!reply.accepted) throw new FlipRefusedError(instance, reply.reason);
  const deadline = decidedMs + timeoutMs;
  while (engineNow() < deadline) {
    if (deps.closing()) throw new EngineClosedError();
    const stats = await scheduler.ask({ type: 'stats' }, { timeoutMs: ASK_TIMEOUT_MS });
    const done = stats.elastic?.flips.find((f) => f.instance === instance && f.decidedMs === decidedMs);
    if (done !== undefined) return done;
    await new Promise((resolve) => setTimeout(resolve, FLIP_POLL_MS));
  }
  throw new EngineError(`flip of instance ${instance} to ${to} did not complete within ${timeoutMs} ms (it goes on)`);
}
