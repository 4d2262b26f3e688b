/**
 * The typed lifecycle event map of an `ActorSystem` (emitted on an eventemitter3 emitter).
 */
import type { DeadLetter } from './protocol.js';

/** Why an actor stopped. */
export type StopReason = 'stopped' | 'killed' | 'escalated' | 'failed-restart' | 'shutdown';

/** An actor finished starting (constructor and `onStart` done). */
export interface StartedEvent {
  readonly name: string;
  readonly id: string;
}

/** An actor was constructed again after a crash. */
export interface RestartedEvent {
  readonly name: string;
  /** Restarts within the current window, this one included. */
  readonly attempt: number;
  readonly delayMs: number;
}

/** An actor's handler, timer, constructor (on restart) or thread failed. */
export interface CrashedEvent {
  readonly name: string;
  readonly cause: Error;
  readonly willRestart: boolean;
}

/** An actor stopped for good. `error` is what `onStop` threw, if anything. */
export interface StoppedEvent {
  readonly name: string;
  readonly reason: StopReason;
  readonly error: Error | null;
}

/** The supervisor gave up on an actor (too many restarts, or strategy 'stop'). */
export interface EscalatedEvent {
  readonly name: string;
  readonly cause: Error;
  readonly restarts: number;
}

/** An actor worker thread started. */
export interface WorkerStartedEvent {
  readonly threadId: number;
}

/** An actor worker thread ended (stopped, killed, crashed or shut down). */
export interface WorkerExitedEvent {
  readonly threadId: number;
  readonly exitCode: number;
}

/** An actor process (placement 'process') started. */
export interface ProcessStartedEvent {
  readonly pid: number;
}

/** An actor process ended (stopped, killed, crashed or shut down). */
export interface ProcessExitedEvent {
  readonly pid: number;
  /** Exit code, or null when a signal ended it. */
  readonly exitCode: number | null;
  readonly signal: string | null;
}

/** Events of an `ActorSystem`, as eventemitter3 argument tuples. */
export interface ActorSystemEvents {
  started: [StartedEvent];
  restarted: [RestartedEvent];
  crashed: [CrashedEvent];
  stopped: [StoppedEvent];
  escalated: [EscalatedEvent];
  deadLetter: [DeadLetter];
  workerStarted: [WorkerStartedEvent];
  workerExited: [WorkerExitedEvent];
  processStarted: [ProcessStartedEvent];
  processExited: [ProcessExitedEvent];
}
