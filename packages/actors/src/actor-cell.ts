/**
 * `ActorCell`: one incarnation of a class actor — the instance, its context and its timers —
 * adapted to the endpoint's `Behavior`. A restart builds a new cell with the same init; the
 * endpoint (ports, mailbox) stays. Timers fire as jobs in the endpoint's queue and are all
 * cleared when the cell is disposed.
 */
import { constructActor, type Actor, type ActorClass, type ActorContext } from './actor.js';
import type { ActorRef } from './actor-ref.js';
import type { Clock, TimerHandle } from './clock.js';
import type { Behavior, Endpoint, Handler } from './endpoint.js';
import type { Message } from './message.js';
import type { Placement } from './protocol.js';

/** How to build a cell. */
export interface CellOptions {
  readonly actorClass: ActorClass;
  readonly init: unknown;
  readonly endpoint: Endpoint;
  readonly self: ActorRef;
  readonly clock: Clock;
  /** Where the actor runs (shown to it as `context.placement`). */
  readonly placement: Placement;
  /** Called when the actor calls `context.stop()`. */
  readonly requestStop: () => void;
}

/** A live actor instance bound to its endpoint. */
export class ActorCell implements Behavior {
  readonly #options: CellOptions;
  readonly #timers = new Set<TimerHandle>();
  #instance: Actor<Message, unknown> | null = null;
  #handlers: Record<string, Handler> = {};
  #disposed = false;

  constructor(options: CellOptions) {
    this.#options = options;
  }

  /** Runs the constructor and `onStart`; throws what they throw. */
  async start(): Promise<void> {
    const { actorClass, init } = this.#options;
    const instance = constructActor(actorClass, init, this.#context());
    this.#instance = instance;
    this.#handlers = instance.handlers as unknown as Record<string, Handler>;
    if (typeof this.#handlers !== 'object' || this.#handlers === null) {
      throw new TypeError(`${actorClass.name}.handlers must be an object of message handlers`);
    }
    await instance.onStart?.();
  }

  handlerFor(type: string): Handler | null {
    const handler = Object.hasOwn(this.#handlers, type) ? this.#handlers[type] : undefined;
    return typeof handler === 'function' ? handler : null;
  }

  async stop(): Promise<void> {
    this.#clearTimers();
    await this.#instance?.onStop?.();
  }

  dispose(): void {
    this.#disposed = true;
    this.#clearTimers();
  }

  #clearTimers(): void {
    for (const handle of this.#timers) this.#options.clock.clearTimer(handle);
    this.#timers.clear();
  }

  #context(): ActorContext<Message> {
    const { clock, endpoint, self, requestStop, placement } = this.#options;
    const timers = this.#timers;
    const job = (callback: () => unknown) => (): void => {
      if (!this.#disposed) endpoint.enqueueJob(callback);
    };
    return {
      self,
      name: endpoint.options.name,
      placement,
      now: () => clock.now(),
      setTimeout(callback, ms) {
        const handle: TimerHandle = clock.setTimeout(() => {
          timers.delete(handle);
          job(callback)();
        }, ms);
        timers.add(handle);
        return handle;
      },
      setInterval(callback, ms) {
        const handle = clock.setInterval(job(callback), ms);
        timers.add(handle);
        return handle;
      },
      clearTimer(handle) {
        clock.clearTimer(handle);
        timers.delete(handle);
      },
      stop: requestStop,
    };
  }
}
