/**
 * Typed errors of the engine. Every error has a stable `code` and round-trips through plain data
 * (`toJSON()` / `engineErrorFromJSON()`) because errors raised inside an actor cross worker
 * boundaries as structured-clone data, where class identity is lost.
 *
 * Invariant: `engineErrorFromJSON(e.toJSON())` yields an error of the same class, code, message and
 * fields.
 */

/** Which estimate broke when a request was rejected for overload. */
export type OverloadEstimate = 'ttft' | 'tpot' | 'queue';

/** Plain-data form of every engine error, discriminated by `code`. */
export type SerializedEngineError = { message: string; stack?: string } & (
  | { code: 'ENGINE_ERROR' }
  | { code: 'OVERLOADED'; estimate: OverloadEstimate; retryAfterMs: number }
  | { code: 'INVALID_REQUEST'; field: string }
  | { code: 'INVALID_OPTIONS'; option: string }
  | { code: 'ENGINE_CLOSED' }
  | { code: 'REQUEST_ABORTED'; requestId: string | null }
  | { code: 'KV_EXHAUSTED'; neededBlocks: number | null; freeBlocks: number | null }
  | { code: 'ACTOR_FAILED'; actorId: string }
  | { code: 'HANDOFF_FAILED'; requestId: string }
  | { code: 'UNAVAILABLE'; actors: string[]; retryAfterMs: number }
);

/** Stable error codes of the engine. */
export type EngineErrorCode = SerializedEngineError['code'];

/** Base class of every engine error. `code` is stable across releases; match on it, not on text. */
export class EngineError extends Error {
  readonly code: EngineErrorCode;

  constructor(message: string, code: EngineErrorCode = 'ENGINE_ERROR') {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }

  /** Plain data for postMessage / JSON. */
  toJSON(): SerializedEngineError {
    return { code: 'ENGINE_ERROR', message: this.message, stack: this.stack };
  }
}

/** The request was rejected early because admitting it would break an SLO or a queue bound. */
export class OverloadedError extends EngineError {
  readonly estimate: OverloadEstimate;
  /** Suggested delay before retrying (maps to HTTP `Retry-After`). */
  readonly retryAfterMs: number;

  constructor(opts: { estimate: OverloadEstimate; retryAfterMs: number; message?: string }) {
    super(
      opts.message ??
        `engine overloaded: estimated ${opts.estimate} exceeds its bound; retry after ${opts.retryAfterMs} ms`,
      'OVERLOADED',
    );
    this.estimate = opts.estimate;
    this.retryAfterMs = opts.retryAfterMs;
  }

  override toJSON(): SerializedEngineError {
    const { message, stack, estimate, retryAfterMs } = this;
    return { code: 'OVERLOADED', message, stack, estimate, retryAfterMs };
  }
}

/**
 * No serving actor of a role needed can take the request now: every one is restarting or
 * unhealthy. Retryable after `retryAfterMs` (maps to HTTP 503 with `Retry-After`).
 */
export class UnavailableError extends EngineError {
  /** The actors that are down. */
  readonly actors: string[];
  readonly retryAfterMs: number;

  constructor(opts: { actors: string[]; retryAfterMs: number; message?: string }) {
    super(opts.message ?? `no serving actor available: ${opts.actors.join(', ')} restarting or unresponsive; retry after ${opts.retryAfterMs} ms`, 'UNAVAILABLE');
    this.actors = [...opts.actors];
    this.retryAfterMs = opts.retryAfterMs;
  }

  override toJSON(): SerializedEngineError {
    const { message, stack, actors, retryAfterMs } = this;
    return { code: 'UNAVAILABLE', message, stack, actors, retryAfterMs };
  }
}

/** A request field has the wrong type or value. `field` names it (e.g. `"topP"`, `"prompt[3]"`). */
export class InvalidRequestError extends EngineError {
  readonly field: string;

  constructor(field: string, problem: string, message?: string) {
    super(message ?? `invalid request field "${field}": ${problem}`, 'INVALID_REQUEST');
    this.field = field;
  }

  override toJSON(): SerializedEngineError {
    return { code: 'INVALID_REQUEST', message: this.message, stack: this.stack, field: this.field };
  }
}

/** An engine option has the wrong type or value. `option` is its dotted path (e.g. `"kv.blockSize"`). */
export class InvalidOptionsError extends EngineError {
  readonly option: string;

  constructor(option: string, problem: string, message?: string) {
    super(message ?? `invalid engine option "${option}": ${problem}`, 'INVALID_OPTIONS');
    this.option = option;
  }

  override toJSON(): SerializedEngineError {
    return { code: 'INVALID_OPTIONS', message: this.message, stack: this.stack, option: this.option };
  }
}

/** The engine is closed (or closing) and accepts no new requests. */
export class EngineClosedError extends EngineError {
  constructor(message = 'engine is closed') {
    super(message, 'ENGINE_CLOSED');
  }

  override toJSON(): SerializedEngineError {
    return { code: 'ENGINE_CLOSED', message: this.message, stack: this.stack };
  }
}

/** The request was aborted (its AbortSignal fired, or the engine aborted it at close). */
export class RequestAbortedError extends EngineError {
  readonly requestId: string | null;

  constructor(requestId: string | null, message?: string) {
    super(message ?? `request ${requestId === null ? '(unknown)' : `"${requestId}"`} was aborted`, 'REQUEST_ABORTED');
    this.requestId = requestId;
  }

  override toJSON(): SerializedEngineError {
    return { code: 'REQUEST_ABORTED', message: this.message, stack: this.stack, requestId: this.requestId };
  }
}

/** The KV pool has no room for a sequence that cannot be preempted or recomputed. */
export class KvExhaustedError extends EngineError {
  readonly neededBlocks: number | null;
  readonly freeBlocks: number | null;

  constructor(opts: { neededBlocks?: number | null; freeBlocks?: number | null; message?: string } = {}) {
    const needed = opts.neededBlocks ?? null;
    const free = opts.freeBlocks ?? null;
    super(
      opts.message ??
        `KV pool exhausted${needed === null ? '' : `: needed ${needed} blocks`}${free === null ? '' : `, ${free} free`}`,
      'KV_EXHAUSTED',
    );
    this.neededBlocks = needed;
    this.freeBlocks = free;
  }

  override toJSON(): SerializedEngineError {
    const { message, stack, neededBlocks, freeBlocks } = this;
    return { code: 'KV_EXHAUSTED', message, stack, neededBlocks, freeBlocks };
  }
}

/** An actor (worker thread) crashed or stopped answering; `actorId` names it. */
export class ActorFailedError extends EngineError {
  readonly actorId: string;

  constructor(actorId: string, cause: string, message?: string) {
    super(message ?? `actor "${actorId}" failed: ${cause}`, 'ACTOR_FAILED');
    this.actorId = actorId;
  }

  override toJSON(): SerializedEngineError {
    return { code: 'ACTOR_FAILED', message: this.message, stack: this.stack, actorId: this.actorId };
  }
}

/** A KV handoff from prefill to decode was cancelled or missed its deadline (retryable). */
export class HandoffFailedError extends EngineError {
  readonly requestId: string;

  constructor(requestId: string, message?: string) {
    super(message ?? `KV handoff of request "${requestId}" failed`, 'HANDOFF_FAILED');
    this.requestId = requestId;
  }

  override toJSON(): SerializedEngineError {
    return { code: 'HANDOFF_FAILED', message: this.message, stack: this.stack, requestId: this.requestId };
  }
}

/**
 * Rebuilds the typed error from its plain-data form (see {@link EngineError.toJSON}).
 * Accepts `unknown` so it can be applied to anything received from another thread: data that is
 * not a serialized engine error becomes a plain {@link EngineError} describing what arrived.
 */
export function engineErrorFromJSON(data: unknown): EngineError {
  if (!isSerializedEngineError(data)) {
    return new EngineError(`malformed serialized engine error: ${describe(data)}`);
  }
  const error = build(data);
  if (data.stack !== undefined) error.stack = data.stack;
  return error;
}

function build(d: SerializedEngineError): EngineError {
  switch (d.code) {
    case 'ENGINE_ERROR':
      return new EngineError(d.message);
    case 'OVERLOADED':
      return new OverloadedError({ estimate: d.estimate, retryAfterMs: d.retryAfterMs, message: d.message });
    case 'INVALID_REQUEST':
      return new InvalidRequestError(d.field, '', d.message);
    case 'INVALID_OPTIONS':
      return new InvalidOptionsError(d.option, '', d.message);
    case 'ENGINE_CLOSED':
      return new EngineClosedError(d.message);
    case 'REQUEST_ABORTED':
      return new RequestAbortedError(d.requestId, d.message);
    case 'KV_EXHAUSTED':
      return new KvExhaustedError({ neededBlocks: d.neededBlocks, freeBlocks: d.freeBlocks, message: d.message });
    case 'ACTOR_FAILED':
      return new ActorFailedError(d.actorId, '', d.message);
    case 'HANDOFF_FAILED':
      return new HandoffFailedError(d.requestId, d.message);
    case 'UNAVAILABLE':
      return new UnavailableError({ actors: d.actors, retryAfterMs: d.retryAfterMs, message: d.message });
  }
}

const isNumOrNull = (v: unknown): boolean => v === null || typeof v === 'number';

/** Type guard: `value` has the shape of a {@link SerializedEngineError}. */
export function isSerializedEngineError(value: unknown): value is SerializedEngineError {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  if (typeof v.message !== 'string') return false;
  if (v.stack !== undefined && typeof v.stack !== 'string') return false;
  switch (v.code) {
    case 'ENGINE_ERROR':
    case 'ENGINE_CLOSED':
      return true;
    case 'OVERLOADED':
      return (v.estimate === 'ttft' || v.estimate === 'tpot' || v.estimate === 'queue') && typeof v.retryAfterMs === 'number';
    case 'INVALID_REQUEST':
      return typeof v.field === 'string';
    case 'INVALID_OPTIONS':
      return typeof v.option === 'string';
    case 'REQUEST_ABORTED':
      return v.requestId === null || typeof v.requestId === 'string';
    case 'KV_EXHAUSTED':
      return isNumOrNull(v.neededBlocks) && isNumOrNull(v.freeBlocks);
    case 'ACTOR_FAILED':
      return typeof v.actorId === 'string';
    case 'HANDOFF_FAILED':
      return typeof v.requestId === 'string';
    case 'UNAVAILABLE':
      return Array.isArray(v.actors) && v.actors.every((a) => typeof a === 'string') && typeof v.retryAfterMs === 'number';
    default:
      return false;
  }
}

function describe(value: unknown): string {
  try {
    return JSON.stringify(value)?.slice(0, 200) ?? String(value);
  } catch {
    return String(value);
  }
}
