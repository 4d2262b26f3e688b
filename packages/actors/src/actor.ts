/**
 * The `Actor` base class users extend, and the `ActorContext` it sees.
 * Invariant: actor classes are only constructed by the runtime (a worker, the inbox or the test
 * kit), which hands the context over through `constructActor` before the subclass constructor
 * body runs, so `this.context` is usable inside constructors.
 */
import type { ActorRef } from './actor-ref.js';
import type { TimerHandle } from './clock.js';
import { ActorError } from './errors.js';
import type { Handlers, Message } from './message.js';
import type { Placement } from './protocol.js';

/** What an actor knows about itself and its environment. */
export interface ActorContext<P extends Message> {
  /** A ref to this actor (it may be sent to others). */
  readonly self: ActorRef<P>;
  /** The actor's name, unique within its system. */
  readonly name: string;
  /**
   * Where this actor runs: `'thread'` (a worker thread of the system's process) or `'process'`
   * (a child process of its own or of its group; `process.pid` tells which).
   */
  readonly placement: Placement;
  /** Current time of the actor's clock, in ms. */
  now(): number;
  /** Runs `callback` after `ms` as a job in the mailbox (serialized with messages). */
  setTimeout(callback: () => unknown, ms: number): TimerHandle;
  /** Runs `callback` every `ms` as a job in the mailbox. */
  setInterval(callback: () => unknown, ms: number): TimerHandle;
  clearTimer(handle: TimerHandle): void;
  /** Stops this actor gracefully after the current message (mailbox drained, `onStop` run). */
  stop(): void;
}

/** The constructor shape the runtime accepts as an actor class. */
export type ActorClass<P extends Message = Message, Init = unknown> = new (init: Init) => Actor<P, Init>;

const PENDING_CONTEXT = Symbol.for('@baton/actors.pendingContext');
const ACTOR_BRAND = Symbol.for('@baton/actors.actorClass');

type ContextSlot = { [PENDING_CONTEXT]?: ActorContext<Message> | null };

/**
 * Base class of every actor: private state in fields, one handler per message type in `handlers`
 * (use arrow functions so `this` is the actor). Handlers may be async; the actor handles one
 * message at a time, in arrival order.
 */
export abstract class Actor<P extends Message, Init = undefined> {
  /** Marks actor classes (checked by the worker when it loads a module). */
  static readonly [ACTOR_BRAND] = true;
  /** This actor's context (self ref, name, timers, stop). */
  protected readonly context: ActorContext<P>;
  /** The `init` value given to `spawn` (the same value again on every restart). */
  protected readonly init: Init;
  /** One handler per message type of `P`. */
  abstract readonly handlers: Handlers<P>;

  constructor(init: Init) {
    const slot = globalThis as ContextSlot;
    const context = slot[PENDING_CONTEXT];
    if (context === undefined || context === null) {
      throw new ActorError(
        'ACTOR_CONSTRUCTED_DIRECTLY',
        `${new.target.name} must be created by the runtime (system.spawn or the test kit), not with 'new'`,
      );
    }
    slot[PENDING_CONTEXT] = null;
    this.context = context as unknown as ActorContext<P>;
    this.init = init;
  }

  /** Runs after the constructor, before the first message; a throw fails the spawn. */
  onStart?(): void | Promise<void>;
  /** Runs on graceful stop, after the mailbox is drained. */
  onStop?(): void | Promise<void>;
}

/** Constructs `Class` with `context` available to the base constructor. */
export function constructActor<P extends Message, Init>(
  Class: ActorClass<P, Init>,
  init: Init,
  context: ActorContext<P>,
): Actor<P, Init> {
  const slot = globalThis as ContextSlot;
  slot[PENDING_CONTEXT] = context as unknown as ActorContext<Message>;
  try {
    return new Class(init);
  } finally {
    slot[PENDING_CONTEXT] = null;
  }
}

/** True when `value` is a class extending `Actor` (from any copy of this package). */
export function isActorClass(value: unknown): value is ActorClass {
  return typeof value === 'function' && (value as unknown as Record<symbol, unknown>)[ACTOR_BRAND] === true;
}
