/**
 * `SocketLink`: a ref's connection to an actor in another process (or to a thread of this one
 * reached from another process's ref) — the process placement's data plane. Envelopes are
 * V8-serialized (`wire-codec.ts`) and sent as frames on this thread's shared `WireClient` to the
 * node hosting the actor, straight to it (no relay through the parent). Reconnects and pending asks
 * are handled by `ReconnectingLink`.
 * NOTE: across a process nothing can be shared or moved, so ArrayBuffers listed in `transfer` are
 * copied and then detached here (the sender loses them, as with a transfer between threads), and a
 * SharedArrayBuffer or MessagePort is a `MessageNotCloneableError` naming its field.
 */
import { MessagePort, type TransferListItem } from 'node:worker_threads';
import { ActorRef } from './actor-ref.js';
import { MessageNotCloneableError, UncloneableFieldError } from './errors.js';
import { linkFor } from './link-factory.js';
import { describeType, type Message } from './message.js';
import type { CopyScope, Envelope, Inbound, LiveRoute, RefDescriptor, ReplyEnvelope } from './protocol.js';
import { ReconnectingLink, type RefResolver } from './reconnecting-link.js';
import type { ClientLink, WireClient } from './wire-client.js';
import { toWire, uncloneableField } from './wire-codec.js';
import type { WireNode } from './wire-node.js';

/** A ref's link over a node-to-node socket. */
export class SocketLink extends ReconnectingLink implements ClientLink {
  protected readonly scope: CopyScope = 'wire';
  readonly #node: WireNode;
  readonly #target: Buffer;
  #client: WireClient | null = null;
  #number = 0;
  #address: string | null = null;

  constructor(descriptor: RefDescriptor, resolver: RefResolver, node: WireNode) {
    super(descriptor, resolver, (inner) => new ActorRef(linkFor(inner, resolver)));
    this.#node = node;
    this.#target = Buffer.from(descriptor.id, 'utf8');
    const address = descriptor.route.address ?? node.addressOf(descriptor.id);
    this.start(address === null ? null : { via: 'socket', address });
  }

  copy(_scope: CopyScope): RefDescriptor {
    return { id: this.id, name: this.name, incarnation: this.incarnation, route: { via: 'socket', address: this.#address } };
  }

  /** @internal Called by the client socket. */
  receiveReply(reply: ReplyEnvelope): void {
    this.onReply(reply);
  }

  /** @internal Called by the client socket. */
  transportClosed(): void {
    this.onTransportClosed();
  }

  protected post(inbound: Inbound, transfer: readonly TransferListItem[], msg: Message, isAsk: boolean): void {
    const what = `message '${describeType(msg)}'`;
    const ask = isAsk ? (inbound as Extract<Envelope, { '@@baton': 'ask' }>) : null;
    let bytes: Buffer;
    try {
      transfer.forEach((item, i) => {
        if (item instanceof MessagePort) throw new UncloneableFieldError(`transfer[${i}]`, 'a MessagePort');
      });
      // NOTE: an ask's envelope travels in the frame header; only its message is serialized.
      bytes = toWire(ask === null ? inbound : ask.m);
    } catch (error) {
      throw new MessageNotCloneableError(this.name, what, error instanceof UncloneableFieldError ? error : (uncloneableField(msg, 'message') ?? error));
    }
    const client = this.#client as WireClient;
    if (ask === null) client.send(this.#number, this.#target, bytes);
    else {
      client.setBusy(this.#number, this, true);
      client.sendAsk(this.#number, this.#target, ask.id, ask.refs, bytes);
    }
    if (transfer.length > 0) structuredClone(null, { transfer: transfer as TransferListItem[] });
  }

  protected override pendingChanged(busy: boolean): void {
    if (!busy && this.#client !== null) this.#client.setBusy(this.#number, this, false);
  }

  protected attach(route: LiveRoute): boolean {
    if (route.via !== 'socket') return false;
    this.#address = route.address;
    this.#node.remember(this.id, route.address);
    this.#client = this.#node.client(route.address);
    this.#number = this.#client.add(this);
    return true;
  }

  protected detach(): void {
    this.#client?.remove(this.#number, this);
    this.#client = null;
  }

  protected transportUp(): boolean {
    return this.#client !== null && !this.#client.closed;
  }
}
