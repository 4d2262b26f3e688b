/**
 * `natsComlinkEndpoint`: a comlink endpoint over two NATS subjects — it publishes on `publish`
 * and listens on `subscribe`, V8-serializing every comlink message (no MessagePort can cross).
 * Invariants: the subscription exists before `ready` resolves (the server has seen it), so a
 * peer that waits for it loses no call; a message that cannot be decoded, or is not a comlink
 * message of the kind this end receives (`direction`, see comlink-message-check.ts), is dropped
 * and reported to `onMalformed` as a `RemoteProtocolError` — nothing else is disturbed.
 */
import type { Endpoint as ComlinkEndpoint } from 'comlink/dist/esm/comlink.mjs';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { deserialize, serialize } from 'node:v8';
import { checkComlinkMessage, type ComlinkDirection } from './comlink-message-check.js';
import { RemoteProtocolError } from './remote-errors.js';

type Listener = Parameters<ComlinkEndpoint['addEventListener']>[1];

/** A comlink endpoint plus its lifecycle. */
export interface NatsComlinkEndpoint extends ComlinkEndpoint {
  /** Resolves once the server has the subscription. */
  readonly ready: Promise<void>;
  /** Unsubscribes; later posts are dropped. */
  close(): void;
}

/** An endpoint publishing on `publish` and receiving `direction` messages on `subscribe`. */
export function natsComlinkEndpoint(
  nc: NatsConnection, publish: string, subscribe: string, direction: ComlinkDirection, onMalformed: (error: RemoteProtocolError) => void,
): NatsComlinkEndpoint {
  const listeners = new Set<Listener>();
  let closed = false;
  const subscription: Subscription = nc.subscribe(subscribe, {
    callback: (error, msg) => {
      if (error !== null) return;
      let data: unknown;
      try {
        data = deserialize(msg.data);
      } catch (cause) {
        onMalformed(new RemoteProtocolError(`undecodable message on ${subscribe}: ${(cause as Error).message}`));
        return;
      }
      try {
        checkComlinkMessage(data, direction, subscribe);
      } catch (error) {
        onMalformed(error as RemoteProtocolError);
        return;
      }
      const event = { data } as MessageEvent;
      for (const listener of listeners) {
        if (typeof listener === 'function') listener(event);
        else listener.handleEvent(event);
      }
    },
  });
  const ready = nc.flush();
  // NOTE: a connection closed before the flush answered rejects it; whoever awaits `ready` sees that.
  ready.catch(() => {});
  return {
    ready,
    postMessage(message: unknown) {
      if (closed || nc.isClosed()) return;
      // NOTE: while the broker is away the client buffers publishes and sends them on reconnect.
      nc.publish(publish, serialize(message));
    },
    addEventListener(_type: string, listener: Listener) {
      listeners.add(listener);
    },
    removeEventListener(_type: string, listener: Listener) {
      listeners.delete(listener);
    },
    close() {
      if (closed) return;
      closed = true;
      listeners.clear();
      if (!nc.isClosed()) subscription.unsubscribe();
    },
  };
}
