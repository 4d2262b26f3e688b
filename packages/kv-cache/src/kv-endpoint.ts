/**
 * KvEndpoint: the decode side's listener for 'stream' KV channels. It listens on TCP (any host
 * that can reach it; loopback by default) or a Unix socket, publishes a plain descriptor (address
 * + a random token every connection must present in its Hello frame), and writes each arriving
 * sequence into its own pool through a KvTransferReceiver (checksummed, layer by layer), whose
 * socket reads payloads straight into the pool's pages (no per-chunk buffers or copies).
 * `reader(ticket)` claims a channel by the id the writer put in its ticket; the claim and the
 * arrival may come in either order.
 *
 * Invariants: a channel's blocks in this pool end adopted (by its reader) or released; a channel
 * is cancelled when its deadline passes unadopted, when either side cancels or when its stream
 * fails; a channel that ended before its stream began leaves a tombstone until its deadline, so
 * a late arrival is refused at once instead of waiting for a reader that is gone.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import type { BlockPool } from './block-pool.js';
import type { BlockTable } from './block-table.js';
import { KvArgumentError, TransferRejectedError, TransferTimeoutError } from './errors.js';
import type { KvEndpointDescriptor, KvReader, KvTarget, KvTicket } from './kv-channel.js';
import { DEFAULT_CHANNEL_DEADLINE_MS } from './shared-kv-channel.js';
import { StreamKvReader, type StreamChannel } from './stream-kv-reader.js';
import { KvTransferReceiver, type IncomingSequence, type SequenceRejection } from './transfer-receiver.js';

/** Options of KvEndpoint.listen: TCP (`host`, `port`) unless `path` is given. */
export interface KvEndpointOptions {
  readonly pool: BlockPool;
  /** Interface to listen on (default 127.0.0.1; '0.0.0.0' to accept other hosts). */
  readonly host?: string;
  /** Default 0: an ephemeral port (the descriptor names the one chosen). */
  readonly port?: number;
  /** Listen on this Unix socket path instead of TCP. */
  readonly path?: string;
  /** Host written into the descriptor (default: `host`, or 127.0.0.1 for a wildcard host). */
  readonly advertiseHost?: string;
  /** Token connections must present (default: 16 random bytes, hex). */
  readonly token?: string;
  /** Fail a connection's in-flight sequences when no byte arrives for this long (default 30 s). */
  readonly idleTimeoutMs?: number;
  /**
   * Registers a transfer-with-insert's blocks (adopted, all layers verified) as a cached prefix;
   * the endpoint releases the table afterwards. Default: `pool.publish(table, tokens)`; pass
   * `(table, tokens) => memPool.insert(table, tokens)` for a KvMemPool's events.
   */
  readonly insert?: (table: BlockTable, tokens: readonly number[]) => void;
}

/** Accepts stream KV channels into a pool. */
export class KvEndpoint {
  /** Plain data: pass it (in a message) to prefill sides, as `{ kind: 'stream', endpoint }`. */
  readonly descriptor: KvEndpointDescriptor;
  readonly #pool: BlockPool;
  readonly #server: Server;
  readonly #idleTimeoutMs: number | undefined;
  readonly #insert: (table: BlockTable, tokens: readonly number[]) => void;
  readonly #receivers = new Set<KvTransferReceiver>();
  readonly #channels = new Map<string, StreamChannel>();
  #closed = false;

  private constructor(pool: BlockPool, server: Server, descriptor: KvEndpointDescriptor, options: KvEndpointOptions) {
    this.#pool = pool;
    this.#insert = options.insert ?? ((table, tokens) => void pool.publish(table, tokens));
    this.#server = server;
    this.descriptor = descriptor;
    this.#idleTimeoutMs = options.idleTimeoutMs;
    server.on('connection', (socket) => this.#accept(socket));
  }

  /** Starts listening; resolves once the address is bound. Throws KvArgumentError on bad options. */
  static async listen(options: KvEndpointOptions): Promise<KvEndpoint> {
    const { pool, path, port = 0, host = '127.0.0.1' } = options;
    if (path !== undefined && (typeof path !== 'string' || path === '')) throw new KvArgumentError('KvEndpoint.listen: path must be a non-empty string');
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new KvArgumentError(`KvEndpoint.listen: port must be in 0..65535, got ${String(port)}`);
    const token = options.token ?? randomBytes(16).toString('hex');
    if (typeof token !== 'string' || token === '') throw new KvArgumentError('KvEndpoint.listen: token must be a non-empty string');
    // NOTE: paused on connect, so each receiver can take its connection over for in-place reads
    // (in-place-socket.ts) before a byte is read.
    const server = createServer({ pauseOnConnect: true });
    if (path !== undefined) server.listen(path);
    else server.listen(port, host);
    await Promise.race([once(server, 'listening'), once(server, 'error').then(([error]) => Promise.reject(error as Error))]);
    server.unref();
    const address = server.address();
    let descriptor: KvEndpointDescriptor;
    if (path !== undefined) descriptor = { transport: 'unix', path, token };
    else {
      if (address === null || typeof address === 'string') throw new KvArgumentError('KvEndpoint.listen: the listener has no TCP address');
      const wildcard = host === '0.0.0.0' || host === '::';
      descriptor = { transport: 'tcp', host: options.advertiseHost ?? (wildcard ? '127.0.0.1' : host), port: address.port, token };
    }
    return new KvEndpoint(pool, server, descriptor, options);
  }

  /** The target a prefill side's KvConnector.openWriter takes to stream here. */
  get target(): KvTarget {
    return { kind: 'stream', endpoint: this.descriptor };
  }

  /** Channels arrived or claimed and not yet adopted or ended (tombstones not counted). */
  get openChannels(): number {
    let n = 0;
    for (const channel of this.#channels.values()) if (channel.failure === null) n++;
    return n;
  }

  /**
   * Claims the channel a stream ticket names and returns its reader (waitForLayer works before
   * the stream began). Throws KvArgumentError for a bad ticket or a channel claimed twice.
   */
  reader(ticket: KvTicket): KvReader {
    if (ticket?.kind !== 'stream' || typeof ticket.channelId !== 'string') throw new KvArgumentError('KvEndpoint.reader: ticket must be a stream ticket');
    if (this.#closed) throw new KvArgumentError('KvEndpoint.reader: the endpoint was closed');
    const channel = this.#channel(ticket.channelId);
    if (channel.claimed) throw new KvArgumentError(`KvEndpoint.reader: channel ${ticket.channelId} was already claimed`);
    channel.claimed = true;
    if (channel.incoming === null && channel.failure === null && ticket.deadlineMs !== null) {
      this.#arm(channel, ticket.deadlineMs, `KV channel ${ticket.channelId}: the stream did not begin within its ${ticket.deadlineMs} ms deadline`);
    }
    return new StreamKvReader(channel, this.#pool.geometry.layers, ticket.tokenCount, {
      fail: (error) => this.#fail(channel, error),
      adopted: () => this.#forget(channel),
    });
  }

  /** Stops listening and fails every channel (their blocks are released). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const receiver of this.#receivers) receiver.close();
    this.#receivers.clear();
    for (const channel of [...this.#channels.values()]) {
      this.#fail(channel, new TransferRejectedError('cancelled', `KV channel ${channel.channelId}: the endpoint was closed`));
      this.#forget(channel);
    }
    await closed;
  }

  #accept(socket: Socket): void {
    if (this.#closed) return void socket.destroy();
    socket.on('error', () => undefined);
    const receiver: KvTransferReceiver = new KvTransferReceiver({
      pool: this.#pool,
      accepted: socket,
      token: this.descriptor.token,
      idleTimeoutMs: this.#idleTimeoutMs,
      onSequence: (incoming) => this.#arrived(receiver, incoming),
      onReject: (rejection) => this.#rejected(rejection),
    });
    // NOTE: the receiver may read on a socket of its own (it takes the accepted one over), so its
    // end, not the accepted socket's, is what removes it.
    this.#receivers.add(receiver);
    void receiver.closed.then(() => this.#receivers.delete(receiver));
  }

  #arrived(receiver: KvTransferReceiver, incoming: IncomingSequence): void {
    if (incoming.key === null) return void receiver.cancel(incoming.sequenceId, 'a KV endpoint accepts only channel sequences (no channel id)');
    if (incoming.insert !== null) return this.#insertWhenDone(incoming, incoming.insert);
    const channel = this.#channel(incoming.key);
    if (channel.failure !== null) return void receiver.cancel(incoming.sequenceId, `channel ${incoming.key} already ended: ${channel.failure.message}`);
    if (channel.incoming !== null) return void receiver.cancel(incoming.sequenceId, `channel ${incoming.key} arrived twice`);
    channel.incoming = incoming;
    channel.receiver = receiver;
    channel.resolveArrival(incoming);
    const deadlineMs = incoming.deadlineMs ?? DEFAULT_CHANNEL_DEADLINE_MS;
    this.#arm(channel, deadlineMs, `KV channel ${incoming.key}: not adopted within its ${deadlineMs} ms deadline`);
    incoming.done.catch((error: unknown) => this.#fail(channel, error instanceof Error ? error : new TransferRejectedError('protocol', String(error))));
  }

  /** Transfer-with-insert: no reader; once verified, the blocks become a cached prefix here. */
  #insertWhenDone(incoming: IncomingSequence, tokens: readonly number[]): void {
    incoming.done.then(
      () => {
        const table = incoming.consumer.adopt();
        try {
          this.#insert(table, tokens);
        } finally {
          table.release();
        }
      },
      // NOTE: a failed stream was cancelled and released by the receiver; the writer hears of it.
      () => undefined,
    ).catch(() => undefined); // NOTE: an insert hook that throws must not take the process down
  }

  #rejected(rejection: SequenceRejection): void {
    if (rejection.key === null) return;
    const channel = this.#channel(rejection.key);
    this.#fail(channel, new TransferRejectedError(rejection.reason, `KV channel ${rejection.key} refused by the endpoint (${rejection.reason}): ${rejection.message}`));
  }

  #channel(channelId: string): StreamChannel {
    let channel = this.#channels.get(channelId);
    if (channel === undefined) {
      let resolveArrival: (incoming: IncomingSequence) => void = () => undefined;
      let rejectArrival: (error: Error) => void = () => undefined;
      const arrival = new Promise<IncomingSequence>((resolve, reject) => {
        resolveArrival = resolve;
        rejectArrival = reject;
      });
      arrival.catch(() => undefined);
      channel = { channelId, incoming: null, receiver: null, failure: null, claimed: false, ended: false, timer: null, arrival, resolveArrival, rejectArrival };
      this.#channels.set(channelId, channel);
      // NOTE: an unclaimed channel nobody ever claims or streams still expires.
      this.#arm(channel, DEFAULT_CHANNEL_DEADLINE_MS, `KV channel ${channelId}: not claimed within ${DEFAULT_CHANNEL_DEADLINE_MS} ms`);
    }
    return channel;
  }

  /** (Re)starts a channel's deadline: on expiry it fails (unless already ended) and is forgotten. */
  #arm(channel: StreamChannel, ms: number, message: string): void {
    if (channel.timer !== null) clearTimeout(channel.timer);
    channel.timer = setTimeout(() => {
      channel.timer = null;
      this.#fail(channel, new TransferTimeoutError(message), 'deadline');
      this.#forget(channel);
    }, ms);
    channel.timer.unref();
  }

  /** Ends a channel with `error`: cancels its local handoff and tells the writer (Nack `reason`). */
  #fail(channel: StreamChannel, error: Error, reason: 'cancelled' | 'deadline' = 'cancelled'): void {
    if (channel.ended) return;
    channel.ended = true;
    channel.failure = error;
    channel.rejectArrival(error);
    const { incoming, receiver } = channel;
    if (incoming === null) return; // NOTE: kept as a tombstone until its timer forgets it
    incoming.consumer.cancel();
    receiver?.cancel(incoming.sequenceId, error.message, reason);
    this.#forget(channel);
  }

  /** Drops a channel's record and timer. */
  #forget(channel: StreamChannel): void {
    channel.ended = true;
    if (this.#channels.get(channel.channelId) === channel) this.#channels.delete(channel.channelId);
    if (channel.timer !== null) clearTimeout(channel.timer);
    channel.timer = null;
  }
}
