/**
 * Errors cross threads as plain data. `serializeError` keeps name, message, stack, `code`, the
 * cause chain and primitive own fields; `deserializeError` rebuilds the runtime's own error
 * classes by `code` (so `instanceof ActorCrashedError` works on the other side) and plain `Error`s
 * for everything else.
 */
import {
  AbortedError,
  ActorCrashedError,
  ActorError,
  ActorModuleNotFoundError,
  ActorStartError,
  ActorStoppedError,
  AskTimeoutError,
  InvalidActorOptionsError,
  MailboxFullError,
  MessageNotCloneableError,
  ProcessExitedError,
  SystemShutdownError,
  UnknownMessageError,
  WorkerExitedError,
} from './errors.js';

/** An error as plain, cloneable data. */
export interface SerializedError {
  readonly name: string;
  readonly message: string;
  readonly stack: string | null;
  readonly code: string | null;
  readonly fields: Record<string, string | number | boolean | null>;
  readonly cause: SerializedError | null;
}

const classesByCode: Record<string, { prototype: ActorError }> = {
  ASK_TIMEOUT: AskTimeoutError,
  ABORTED: AbortedError,
  ACTOR_CRASHED: ActorCrashedError,
  ACTOR_STOPPED: ActorStoppedError,
  MAILBOX_FULL: MailboxFullError,
  MESSAGE_NOT_CLONEABLE: MessageNotCloneableError,
  UNKNOWN_MESSAGE: UnknownMessageError,
  ACTOR_MODULE_NOT_FOUND: ActorModuleNotFoundError,
  ACTOR_START_FAILED: ActorStartError,
  INVALID_OPTIONS: InvalidActorOptionsError,
  SYSTEM_SHUT_DOWN: SystemShutdownError,
  WORKER_EXITED: WorkerExitedError,
  PROCESS_EXITED: ProcessExitedError,
};

const MAX_CAUSE_DEPTH = 8;

/** Converts any thrown value into cloneable data. */
export function serializeError(error: unknown, depth = 0): SerializedError {
  if (!(error instanceof Error)) {
    return { name: 'Error', message: String(error), stack: null, code: null, fields: {}, cause: null };
  }
  const fields: Record<string, string | number | boolean | null> = {};
  for (const [key, value] of Object.entries(error)) {
    if (key === 'code' || key === 'name' || key === 'message' || key === 'stack' || key === 'cause') continue;
    if (value === null || ['string', 'number', 'boolean'].includes(typeof value)) {
      fields[key] = value as string | number | boolean | null;
    }
  }
  const code = (error as { code?: unknown }).code;
  const hasCause = error.cause !== undefined && depth < MAX_CAUSE_DEPTH;
  return {
    name: error.name,
    message: error.message,
    stack: error.stack ?? null,
    code: typeof code === 'string' ? code : null,
    fields,
    cause: hasCause ? serializeError(error.cause, depth + 1) : null,
  };
}

/** Rebuilds an error from data made by `serializeError`. */
export function deserializeError(data: SerializedError): Error {
  const known = data.code === null ? undefined : classesByCode[data.code];
  const error: Error = known ? (Object.create(known.prototype) as Error) : new Error(data.message);
  Object.defineProperty(error, 'message', { value: data.message, writable: true, configurable: true });
  error.name = data.name;
  if (data.stack !== null) Object.defineProperty(error, 'stack', { value: data.stack, writable: true, configurable: true });
  if (data.code !== null) (error as { code?: string }).code = data.code;
  Object.assign(error, data.fields);
  if (data.cause !== null) {
    Object.defineProperty(error, 'cause', { value: deserializeError(data.cause), writable: true, configurable: true });
  }
  return error;
}
