/**
 * `natsComlinkEndpoint`: a comlink endpoint over two NATS subjects — it publishes on `publish`
 * and listens on `subscribe`, V8-serializing every comlink message (no MessagePort can cross).
 * Invariants: the subscription exists before `ready` resolves (the server has seen it), so a
 * peer that waits for it loses no call; a message that cannot be decoded is dropped (comlink
 * would not understand it either) and reported to `onMalformed`.
 */
import type { Endpoint as ComlinkEndpoint } from 'comlink/dist/esm/comlink.mjs';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { deserialize, serialize } from 'node:v8';

type Listener = Parameters<ComlinkEndpoint['addEventListener']>[1];

/** A comlink endpoint plus its lifecycle. */
export interface NatsComlinkEndpoint extends ComlinkEndpoint {
  /** Resolves once the server has the subscription. */
  readonly ready: Promise<void>;
  /** Unsubscribes; later posts are dropped. */
  close(): void;
}

/** An endpoint publishing on `publish` and receiving on `subscribe`. */
export function natsComlinkEndpoint(nc: NatsConnection, publish: string, subscribe: string, onMalformed: (error: Error) => void): NatsComlinkEndpoint {
  const listeners = new Set<Listener>();
  let closed = false;
  const subscription: Subscription = nc.subscribe(subscribe, {
    callback: (error, msg) => {
      if (error !== null) return;
      let data: unknown;
      try {
        data = deserialize(msg.data);
      } catch (cause) {
        onMalformed(new Error(`undecodable message on ${subscribe}`, { cause }));
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
