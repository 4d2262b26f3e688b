/**
 * Main-thread inboxes: an endpoint in the calling thread whose messages go to a plain function (or
 * a handler map). Its ref can be given to actors, which then post to it over direct ports.
 * A throwing inbox handler is reported as a crash and the inbox keeps going (it has no state).
 */
import type { Behavior, Handler } from './endpoint.js';
import type { Handlers, Message } from './message.js';

/** What an inbox does with messages: one function for all, or one handler per type. */
export type InboxHandler<P extends Message> = ((msg: P) => unknown) | Handlers<P>;

/** Adapts an `InboxHandler` to the endpoint's `Behavior`. */
export function inboxBehavior<P extends Message>(handler: InboxHandler<P>): Behavior {
  return {
    handlerFor(type) {
      if (typeof handler === 'function') return handler as Handler;
      const map = handler as Record<string, unknown>;
      const candidate = Object.hasOwn(map, type) ? map[type] : undefined;
      return typeof candidate === 'function' ? (candidate as Handler) : null;
    },
    stop() {},
    dispose() {},
  };
}
