/**
 * KvConnector: the prefill side's entry to KV channels. `openWriter(target, ...)` picks the
 * channel by the target's kind: 'shared' opens a handoff in this pool, 'stream' opens a sequence
 * on a connection to the target's KvEndpoint. Connections are made on first use, one per endpoint
 * (TCP with Nagle off, or a Unix socket), authenticated by the endpoint's token, and reused by
 * later writers (their frames interleave); a connection that fails is dropped and the next writer
 * dials again. A connection keeps the process alive only while one of its writers is in flight.
 */
import { randomUUID } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import type { BlockPool } from './block-pool.js';
import { KvArgumentError } from './errors.js';
import { checkKvTarget, type KvEndpointDescriptor, type KvTarget, type KvWriter, type OpenKvWriterOptions } from './kv-channel.js';
import { SharedKvWriter } from './shared-kv-channel.js';
import { StreamKvWriter } from './stream-kv-writer.js';
import { KvTransferSender } from './transfer-sender.js';

/** Options of the KvConnector constructor. */
export interface KvConnectorOptions {
  /** The pool the writers' tables belong to. */
  readonly pool: BlockPool;
  /** Give up dialing an endpoint after this many ms (its writers fail; default 5 s). */
  readonly connectTimeoutMs?: number;
  /** Upper bound of one Layer frame's payload (default 1 MiB). */
  readonly maxFrameBytes?: number;
}

interface Link {
  readonly socket: Socket;
  readonly sender: KvTransferSender;
  nextWireId: number;
  inflight: number;
}

/** Opens KV channel writers toward shared or stream targets. */
export class KvConnector {
  readonly #pool: BlockPool;
  readonly #connectTimeoutMs: number;
  readonly #maxFrameBytes: number | undefined;
  readonly #links = new Map<string, Link>();
  readonly #idPrefix = randomUUID();
  #nextChannel = 0;
  #closed = false;

  constructor(options: KvConnectorOptions) {
    this.#pool = options.pool;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 5000;
    this.#maxFrameBytes = options.maxFrameBytes;
  }

  /**
   * Opens the writer of one sequence's channel toward `target`. Null only for a 'shared' target
   * whose pool has no handoff slot free ("can't right now"). Throws KvArgumentError on a bad
   * target or options, KvClosedError-like misuse after close.
   */
  openWriter(target: KvTarget, options: OpenKvWriterOptions): KvWriter | null {
    checkKvTarget(target);
    this.#checkOptions(options);
    if (target.kind === 'shared') return SharedKvWriter.open(this.#pool, options);
    const link = this.#link(target.endpoint);
    const wireId = link.nextWireId;
    link.nextWireId = (link.nextWireId + 1) >>> 0;
    const channelId = `${this.#idPrefix}:${this.#nextChannel++}`;
    const writer = new StreamKvWriter({ pool: this.#pool, sender: link.sender, wireId, channelId }, options);
    if (link.inflight++ === 0) link.socket.ref();
    void writer.done.catch(() => undefined).finally(() => {
      if (--link.inflight === 0) link.socket.unref();
    });
    return writer;
  }

  /** Open stream connections (for tests and stats). */
  get connections(): number {
    return this.#links.size;
  }

  /** Closes every connection; writers still in flight fail with TransferPeerClosedError. */
  close(): void {
    this.#closed = true;
    for (const link of this.#links.values()) link.socket.destroy();
    this.#links.clear();
  }

  #link(endpoint: KvEndpointDescriptor): Link {
    if (this.#closed) throw new KvArgumentError('openWriter: the KvConnector was closed');
    const key = endpoint.transport === 'tcp' ? `tcp:${endpoint.host}:${endpoint.port}#${endpoint.token}` : `unix:${endpoint.path}#${endpoint.token}`;
    const existing = this.#links.get(key);
    if (existing !== undefined && !existing.socket.destroyed) return existing;
    const socket = endpoint.transport === 'tcp' ? connect({ host: endpoint.host, port: endpoint.port }) : connect({ path: endpoint.path });
    if (endpoint.transport === 'tcp') socket.setNoDelay(true);
    socket.unref();
    const where = endpoint.transport === 'tcp' ? `${endpoint.host}:${endpoint.port}` : endpoint.path;
    const timer = setTimeout(() => socket.destroy(new Error(`connecting to the KV endpoint at ${where} took over ${this.#connectTimeoutMs} ms`)), this.#connectTimeoutMs);
    timer.unref();
    socket.once('connect', () => clearTimeout(timer));
    const link: Link = {
      socket,
      sender: new KvTransferSender({ pool: this.#pool, socket, token: endpoint.token, maxFrameBytes: this.#maxFrameBytes }),
      nextWireId: 1,
      inflight: 0,
    };
    socket.on('close', () => {
      clearTimeout(timer);
      if (this.#links.get(key) === link) this.#links.delete(key);
    });
    this.#links.set(key, link);
    return link;
  }

  #checkOptions(options: OpenKvWriterOptions): void {
    const { table, tokenCount, deadlineMs, insert } = options ?? {};
    if (insert !== undefined && !(Array.isArray(insert) && insert.length <= tokenCount && insert.every((t) => Number.isInteger(t)))) {
      throw new KvArgumentError('openWriter: insert must list at most tokenCount integer token ids');
    }
    if (table === undefined || table === null || typeof table.ensureCapacity !== 'function') {
      throw new KvArgumentError('openWriter: options.table must be a BlockTable');
    }
    if (table.released) throw new KvArgumentError('openWriter: options.table was released');
    if (!Number.isInteger(tokenCount) || tokenCount < 0 || tokenCount > table.capacity) {
      throw new KvArgumentError(`openWriter: tokenCount must be an integer in [0, ${table.capacity}] (table capacity), got ${String(tokenCount)}`);
    }
    if (deadlineMs !== undefined && !(typeof deadlineMs === 'number' && deadlineMs >= 0 && deadlineMs !== Infinity)) {
      throw new KvArgumentError(`openWriter: deadlineMs must be a finite number >= 0, got ${String(deadlineMs)}`);
    }
  }
}
