/**
 * The package's typed errors. Every error has a stable `code`; messages name exactly what was
 * wrong (the actor, the message type, the option). Errors cross threads as plain data through
 * `error-codec.ts`, which rebuilds these classes by `code`.
 */

/** Base class of every error thrown or rejected by the actor runtime. */
export class ActorError extends Error {
  /** A stable, machine-readable identifier of the failure kind. */
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** An ask got no reply within `timeoutMs`. */
export class AskTimeoutError extends ActorError {
  constructor(readonly actor: string, readonly messageType: string, readonly timeoutMs: number) {
    super('ASK_TIMEOUT', `ask '${messageType}' to actor '${actor}' got no reply within ${timeoutMs} ms`);
  }
}

/** An ask or a pool task was aborted through its `AbortSignal`. */
export class AbortedError extends ActorError {
  constructor(readonly target: string, readonly operation: string, options?: { cause?: unknown }) {
    super('ABORTED', `${operation} on '${target}' was aborted`, options);
  }
}

/** The actor crashed (a handler threw, or its thread died) while the message was pending. */
export class ActorCrashedError extends ActorError {
  constructor(readonly actor: string, cause: unknown) {
    super('ACTOR_CRASHED', `actor '${actor}' crashed: ${describe(cause)}`, { cause });
  }
}

/** The actor was stopped (or killed) and takes no more messages. */
export class ActorStoppedError extends ActorError {
  constructor(readonly actor: string, readonly messageType: string | null = null) {
    super(
      'ACTOR_STOPPED',
      messageType === null
        ? `actor '${actor}' is stopped`
        : `actor '${actor}' is stopped; message '${messageType}' was not delivered`,
    );
  }
}

/** The actor's bounded mailbox had no room for the message (or dropped it to make room). */
export class MailboxFullError extends ActorError {
  constructor(readonly actor: string, readonly messageType: string, readonly capacity: number) {
    super('MAILBOX_FULL', `mailbox of actor '${actor}' is full (capacity ${capacity}); message '${messageType}' was rejected`);
  }
}

/**
 * A field that cannot reach an actor in another process (a SharedArrayBuffer, a MessagePort, a
 * function...). Used as the `cause` of `MessageNotCloneableError`; `path` is rooted at `init`,
 * `message` or `reply` (for example `init.pool.buffer`).
 */
export class UncloneableFieldError extends Error {
  constructor(readonly path: string, readonly reason: string) {
    super(`${path} is ${reason}, which cannot cross a process`);
    this.name = 'UncloneableFieldError';
  }
}

/**
 * The message (or reply, or init) holds a value that cannot be structured-cloned, or (for an
 * actor in another process) cannot cross a process; `path` then names the field.
 */
export class MessageNotCloneableError extends ActorError {
  /** The offending field (for example `init.pool.buffer`), when known. */
  readonly path: string | null;
  constructor(readonly actor: string, readonly what: string, cause: unknown) {
    super(
      'MESSAGE_NOT_CLONEABLE',
      cause instanceof UncloneableFieldError
        ? `${cause.message} (${what} for actor '${actor}')`
        : `${what} for actor '${actor}' cannot be cloned: ${describe(cause)}`,
      { cause },
    );
    this.path = cause instanceof UncloneableFieldError ? cause.path : null;
  }
}

/** The actor has no handler for the message's `type` (or the message has no string `type`). */
export class UnknownMessageError extends ActorError {
  constructor(readonly actor: string, readonly messageType: string | null) {
    super(
      'UNKNOWN_MESSAGE',
      messageType === null
        ? `actor '${actor}' received a message without a string 'type' field`
        : `actor '${actor}' has no handler for message type '${messageType}'`,
    );
  }
}

/** The actor module could not be found or does not export an actor class. */
export class ActorModuleNotFoundError extends ActorError {
  constructor(readonly module: string, detail: string) {
    super('ACTOR_MODULE_NOT_FOUND', `actor module '${module}' ${detail}`);
  }
}

/** The actor's constructor or `onStart` threw, so the spawn failed. */
export class ActorStartError extends ActorError {
  constructor(readonly actor: string, cause: unknown) {
    super('ACTOR_START_FAILED', `actor '${actor}' failed to start: ${describe(cause)}`, { cause });
  }
}

/** An option passed to the runtime is invalid; the message names the option. */
export class InvalidActorOptionsError extends ActorError {
  constructor(readonly option: string, detail: string) {
    super('INVALID_OPTIONS', `invalid option '${option}': ${detail}`);
  }
}

/** The actor system was shut down. */
export class SystemShutdownError extends ActorError {
  constructor(operation: string) {
    super('SYSTEM_SHUT_DOWN', `cannot ${operation}: the actor system is shut down`);
  }
}

/** A worker thread ended unexpectedly (for example `process.exit()` inside an actor). */
export class WorkerExitedError extends ActorError {
  constructor(readonly exitCode: number) {
    super('WORKER_EXITED', `worker thread exited unexpectedly with code ${exitCode}`);
  }
}

/**
 * An actor stopped answering (its owner's heartbeats went unanswered), so its host was ended to
 * restart it: the cause of the crash that supervision then handles.
 */
export class ActorUnresponsiveError extends ActorError {
  constructor(readonly actor: string, readonly silentMs: number) {
    super('ACTOR_UNRESPONSIVE', `actor '${actor}' did not answer for ${Math.round(silentMs)} ms; its host was ended to restart it`);
  }
}

/** An actor's child process ended unexpectedly (it exited, crashed or was killed by a signal). */
export class ProcessExitedError extends ActorError {
  constructor(readonly pid: number, readonly exitCode: number | null, readonly signal: string | null) {
    super(
      'PROCESS_EXITED',
      `actor process ${pid} ${signal === null ? `exited unexpectedly with code ${String(exitCode)}` : `was killed by ${signal}`}`,
    );
  }
}

/** A short description of any thrown value, for error messages. */
export function describe(cause: unknown): string {
  if (cause instanceof Error) return `${cause.name}: ${cause.message}`;
  return String(cause);
}
