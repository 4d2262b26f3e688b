/**
 * `WireClient`: this thread's one socket to another node (a thread or process that hosts actors),
 * shared by every link from here to an actor there. Links get a number on the socket; replies and
 * `closed` notices come back by that number.
 * Invariants: a link is held strongly only while it has pending asks (their replies must find it),
 * weakly otherwise, so refs dropped by their holders are collected; when the socket closes, every
 * live link hears of it once.
 */
import { connectOptions } from './remote/socket-address.js';
import { connect, type Socket } from 'node:net';
import { fromWire } from './wire-codec.js';
import type { SerializedError } from './error-codec.js';
import { FRAME_KIND, FRAME_REFS, FrameReader, FrameWriter } from './wire-frames.js';
import type { ReplyEnvelope } from './protocol.js';

/** What the client calls back on a link. */
export interface ClientLink {
  /** The reply to one of the link's asks. */
  receiveReply(reply: ReplyEnvelope): void;
  /** The socket closed, or the node said the link's target is not there. */
  transportClosed(): void;
}

/** One socket from this thread to the node at `address`. */
export class WireClient {
  readonly address: string;
  readonly #socket: Socket;
  readonly #writer: FrameWriter;
  readonly #links = new Map<number, WeakRef<ClientLink>>();
  readonly #busy = new Map<number, ClientLink>();
  readonly #collected = new FinalizationRegistry<number>((link) => {
    if (this.#links.get(link)?.deref() === undefined) this.#links.delete(link);
  });
  #nextLink = 1;
  #closed = false;

  /** Connects (writes before the connection is up are queued); `onClose` runs once when it ends. */
  constructor(address: string, onClose: (client: WireClient) => void) {
    this.address = address;
    this.#socket = connect(connectOptions(address));
    // NOTE: data sockets never keep a thread or process alive (as data ports do not).
    this.#socket.unref();
    this.#writer = new FrameWriter(this.#socket);
    const reader = new FrameReader((kind, flags, link, ask, body) => this.#onFrame(kind, flags, link, ask, body));
    this.#socket.on('data', (chunk: Buffer) => {
      try {
        reader.push(chunk);
      } catch {
        this.#socket.destroy();
      }
    });
    this.#socket.on('error', () => {});
    this.#socket.once('close', () => {
      this.#closed = true;
      onClose(this);
      const links = [...this.#links.values()];
      this.#links.clear();
      this.#busy.clear();
      for (const ref of links) ref.deref()?.transportClosed();
    });
  }

  /** True once the socket has closed (a link then reconnects through its resolver). */
  get closed(): boolean {
    return this.#closed;
  }

  /** Registers a link; returns its number on this socket. */
  add(link: ClientLink): number {
    const number = this.#nextLink++;
    this.#links.set(number, new WeakRef(link));
    this.#collected.register(link, number, link);
    return number;
  }

  /** Forgets a link (it moved or stopped). */
  remove(number: number, link: ClientLink): void {
    this.#links.delete(number);
    this.#busy.delete(number);
    this.#collected.unregister(link);
  }

  /** Holds `link` strongly while it waits for replies (`busy`), weakly otherwise. */
  setBusy(number: number, link: ClientLink, busy: boolean): void {
    if (busy) this.#busy.set(number, link);
    else this.#busy.delete(number);
  }

  /** Queues a tell (or stop) envelope for actor `target` (utf-8 bytes) from link `number`. */
  send(number: number, target: Buffer, payload: Buffer): void {
    this.#writer.write(FRAME_KIND.in, 0, number, 0, target, payload);
  }

  /** Queues ask `ask` of message bytes `payload` for actor `target` from link `number`. */
  sendAsk(number: number, target: Buffer, ask: number, refs: boolean, payload: Buffer): void {
    this.#writer.write(FRAME_KIND.ask, refs ? FRAME_REFS : 0, number, ask, target, payload);
  }

  /** Closes the socket at once (the node it leads to is known to be gone); resolves once it is closed. */
  destroy(): Promise<void> {
    if (this.#socket.closed) return Promise.resolve();
    const closed = new Promise<void>((resolve) => this.#socket.once('close', () => resolve()));
    this.#socket.destroy();
    return closed;
  }

  #onFrame(kind: number, flags: number, number: number, ask: number, body: Buffer): void {
    const link = this.#links.get(number)?.deref();
    if (link === undefined) return;
    if (kind === FRAME_KIND.reply) link.receiveReply({ k: 'reply', id: ask, v: fromWire(body), refs: (flags & FRAME_REFS) !== 0 });
    else if (kind === FRAME_KIND.fail) link.receiveReply({ k: 'fail', id: ask, e: fromWire(body) as SerializedError });
    else if (kind === FRAME_KIND.closed) {
      this.remove(number, link);
      link.transportClosed();
    } else throw new RangeError(`unexpected actor frame kind ${kind} from ${this.address}`);
  }
}
