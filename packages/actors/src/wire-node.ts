/**
 * `WireNode`: this thread's presence on the cross-process data plane. It registers the endpoints
 * of this thread that other processes may reach, serves them on a unix-domain socket (started on
 * demand; at once in an actor process), and keeps one `WireClient` per remote node address.
 * One node per thread (module state is per thread). Invariants: a frame for an actor that is not
 * registered here is answered with `closed`, so its sender asks its resolver what became of it;
 * outside actor hosts the server closes when its last endpoint leaves, so nothing outlives the
 * systems that opened it.
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { threadId } from 'node:worker_threads';
import type { Endpoint, ReplySink } from './endpoint.js';
import { messageTypeOf } from './message.js';
import { envelopeOf, type DeadLetter, type Envelope, type Inbound, type ReplyEnvelope } from './protocol.js';
import { listenOptions, tcpAddress } from './remote/socket-address.js';
import { WireClient } from './wire-client.js';
import { fromWire, toWire, uncloneableField } from './wire-codec.js';
import { FRAME_KIND, FRAME_REFS, FrameReader, FrameWriter, splitTarget } from './wire-frames.js';

/** A fresh socket address: an abstract unix socket on Linux (nothing to clean up), a file elsewhere. */
function newAddress(): string {
  const name = `baton-actors-${process.pid}-${threadId}-${randomBytes(6).toString('hex')}`;
  if (process.platform === 'linux') return `\0${name}`;
  if (process.platform === 'win32') return `\\\\?\\pipe\\${name}`;
  return join(tmpdir(), `${name}.sock`);
}

/** This thread's node. */
export class WireNode {
  readonly #endpoints = new Map<string, Endpoint>();
  readonly #clients = new Map<string, WireClient>();
  readonly #sessions = new Set<Socket>();
  /** Addresses learned for actor ids (from resolver answers), so later refs need no lookup. */
  readonly #located = new Map<string, string>();
  #server: Server | null = null;
  #listening: Promise<string> | null = null;
  #address: string | null = null;
  /** Where tells to actors that are not here are reported (set by the actor host runtime). */
  deadLetters: ((letter: DeadLetter) => void) | null = null;
  /**
   * Keep serving with no endpoint registered (an actor host: its address is known to the system
   * for its whole life). Otherwise (a thread with inboxes) the server closes with the last one.
   */
  serveWhileIdle = false;

  /** The server's address once it listens, else null. */
  get address(): string | null {
    return this.#address;
  }

  /** Makes `endpoint` reachable from other processes (by its id). */
  register(endpoint: Endpoint): void {
    this.#endpoints.set(endpoint.options.id, endpoint);
  }

  /** Removes an endpoint; unless `serveWhileIdle`, the server closes with the last one. */
  unregister(id: string): void {
    this.#endpoints.delete(id);
    this.closeIfIdle();
  }

  /** The endpoint registered under `id` in this thread, or null. */
  endpoint(id: string): Endpoint | null {
    return this.#endpoints.get(id) ?? null;
  }

  /** The address at which actor `id` can be reached: here when it is local, else as learned. */
  addressOf(id: string): string | null {
    if (this.#address !== null && this.#endpoints.has(id)) return this.#address;
    return this.#located.get(id) ?? null;
  }

  /** Records where actor `id` was found. */
  remember(id: string, address: string): void {
    this.#located.set(id, address);
  }

  /** Closes the server when no endpoint is registered (a system shut down). */
  closeIfIdle(): void {
    if (!this.serveWhileIdle && this.#endpoints.size === 0) this.#closeServer();
  }

  /** Starts the server (once) and resolves with its address. */
  listen(): Promise<string> {
    if (this.#listening !== null) return this.#listening;
    const address = newAddress();
    const server = createServer((socket) => this.#accept(socket));
    this.#server = server;
    this.#listening = new Promise<string>((resolve, reject) => {
      server.once('error', reject);
      server.listen(listenOptions(address), () => {
        server.off('error', reject);
        const bound = server.address();
        // NOTE: with BATON_ACTORS_TCP_HOST the node serves on TCP, reachable from other hosts.
        const advertised = typeof bound === 'object' && bound !== null ? tcpAddress(bound.port) : address;
        this.#address = advertised;
        resolve(advertised);
      });
    });
    // NOTE: the server never keeps a thread or process alive by itself.
    server.unref();
    return this.#listening;
  }

  /** The (shared) client socket to the node at `address`. */
  client(address: string): WireClient {
    let client = this.#clients.get(address);
    if (client === undefined || client.closed) {
      client = new WireClient(address, (ended) => {
        if (this.#clients.get(ended.address) === ended) this.#clients.delete(ended.address);
        this.#unlearn(ended.address);
      });
      this.#clients.set(address, client);
    }
    return client;
  }

  /** Closes the client socket to `address` at once (its node is known to be gone). */
  async forget(address: string): Promise<void> {
    const client = this.#clients.get(address);
    this.#clients.delete(address);
    this.#unlearn(address);
    await client?.destroy();
  }

  #unlearn(address: string): void {
    for (const [id, known] of this.#located) if (known === address) this.#located.delete(id);
  }

  #closeServer(): void {
    const server = this.#server;
    const address = this.#address;
    this.#server = null;
    this.#listening = null;
    this.#address = null;
    for (const socket of this.#sessions) socket.destroy();
    this.#sessions.clear();
    server?.close();
    if (address !== null && !address.startsWith('\0') && !address.startsWith('tcp://') && process.platform !== 'win32') rmSync(address, { force: true });
  }

  #accept(socket: Socket): void {
    socket.unref();
    this.#sessions.add(socket);
    socket.once('close', () => this.#sessions.delete(socket));
    socket.on('error', () => {});
    const writer = new FrameWriter(socket);
    const reader = new FrameReader((kind, flags, link, ask, body) => {
      const { target, payload } = splitTarget(body);
      if (kind === FRAME_KIND.in) this.#deliver(target, fromWire(payload) as Inbound, link, writer);
      else if (kind === FRAME_KIND.ask) {
        const envelope: Envelope = { '@@baton': 'ask', id: ask, m: fromWire(payload), refs: (flags & FRAME_REFS) !== 0 };
        this.#deliver(target, envelope, link, writer);
      } else throw new RangeError(`unexpected actor frame kind ${kind}`);
    });
    socket.on('data', (chunk: Buffer) => {
      try {
        reader.push(chunk);
      } catch {
        // NOTE: a corrupt stream cannot be resynchronized; its sender sees the close and reconnects.
        socket.destroy();
      }
    });
  }

  #deliver(target: string, inbound: Inbound, link: number, writer: FrameWriter): void {
    const endpoint = this.#endpoints.get(target);
    if (endpoint === undefined) {
      writer.write(FRAME_KIND.closed, 0, link, 0, null, null);
      const envelope = envelopeOf(inbound);
      if (envelope === null || envelope['@@baton'] === 'tell') {
        const msg = envelope === null ? inbound : envelope.m;
        // NOTE: actor ids are `<name>#<serial>`; the dead letter names the actor, as everywhere else.
        const name = target.includes('#') ? target.slice(0, target.lastIndexOf('#')) : target;
        this.deadLetters?.({ target: name, messageType: messageTypeOf(msg), reason: 'stopped' });
      }
      return;
    }
    const sink: ReplySink = { scope: 'wire', send: (reply: ReplyEnvelope) => sendReply(writer, link, reply) };
    endpoint.receive(inbound, sink);
  }
}

/** Writes a reply frame; throws (before writing) the error naming a field that cannot cross a process. */
function sendReply(writer: FrameWriter, link: number, reply: ReplyEnvelope): void {
  if (reply.k === 'fail') {
    writer.write(FRAME_KIND.fail, 0, link, reply.id, null, toWire(reply.e));
    return;
  }
  let bytes: Buffer;
  try {
    bytes = toWire(reply.v);
  } catch (error) {
    throw uncloneableField(reply.v, 'reply') ?? error;
  }
  writer.write(FRAME_KIND.reply, reply.refs ? FRAME_REFS : 0, link, reply.id, null, bytes);
}

let current: WireNode | null = null;

/** This thread's node. */
export function wireNode(): WireNode {
  current ??= new WireNode();
  return current;
}
