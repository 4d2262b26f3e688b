/**
 * `PortLink`: a ref's connection to an actor in this process (another thread, or this one) over a
 * MessagePort — the thread placement's data plane. Messages are structured-cloned by
 * `postMessage`, so SharedArrayBuffers are shared and listed ArrayBuffers transferred.
 * Reconnects and pending asks are handled by `ReconnectingLink`.
 */
import { MessageChannel, type MessagePort, type TransferListItem } from 'node:worker_threads';
import { ActorRef } from './actor-ref.js';
import { MessageNotCloneableError } from './errors.js';
import { linkFor } from './link-factory.js';
import { wireNode } from './wire-node.js';
import { describeType, type Message } from './message.js';
import type { CopyScope, Envelope, Inbound, LiveRoute, RefDescriptor, ReplyEnvelope } from './protocol.js';
import { ReconnectingLink, type RefResolver } from './reconnecting-link.js';

/** A ref's link over a MessagePort. */
export class PortLink extends ReconnectingLink {
  protected readonly scope: CopyScope = 'process';
  #port: MessagePort | null = null;
  /** Socket address of the node hosting the actor, when known (handed on in wire copies). */
  #address: string | null = null;

  constructor(descriptor: RefDescriptor, resolver: RefResolver) {
    super(descriptor, resolver, (inner) => new ActorRef(linkFor(inner, resolver)));
    const route = descriptor.route;
    this.start(route.via === 'port' ? route : null);
  }

  copy(scope: CopyScope): RefDescriptor {
    const identity = { id: this.id, name: this.name, incarnation: this.incarnation };
    if (scope === 'wire') return { ...identity, route: { via: 'socket', address: this.#address ?? wireNode().addressOf(this.id) } };
    const { port1, port2 } = new MessageChannel();
    const connect = (): void => {
      const envelope: Envelope = { '@@baton': 'connect', port: port2 };
      (this.#port as MessagePort).postMessage(envelope, [port2]);
    };
    if (this.connected) connect();
    // NOTE: closing our end of a copy that cannot connect makes its holder ask the resolver,
    // which answers "stopped" or "down": the copy fails fast instead of hanging.
    else if (this.stopped) port2.close();
    else this.whenConnected({ send: connect, fail: () => port2.close() });
    return { ...identity, route: { via: 'port', port: port1, address: this.#address } };
  }

  protected post(inbound: Inbound, transfer: readonly TransferListItem[], msg: Message): void {
    const port = this.#port as MessagePort;
    try {
      if (transfer.length === 0) port.postMessage(inbound);
      else port.postMessage(inbound, transfer);
    } catch (error) {
      throw new MessageNotCloneableError(this.name, `message '${describeType(msg)}'`, error);
    }
  }

  protected attach(route: LiveRoute): boolean {
    if (route.via !== 'port') return false;
    const port = route.port;
    this.#port = port;
    this.#address = route.address ?? this.#address;
    port.on('message', (reply: ReplyEnvelope) => this.onReply(reply));
    port.once('close', () => {
      if (port === this.#port) this.onTransportClosed();
    });
    // NOTE: data ports never keep a thread alive; workers (and their control ports) do.
    port.unref();
    return true;
  }

  protected detach(): void {
    const port = this.#port;
    this.#port = null;
    port?.close();
  }

  protected transportUp(): boolean {
    return this.#port !== null;
  }
}
