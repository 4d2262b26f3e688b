/**
 * Sending side of the cross-process KV stream. Streams a sequence's blocks layer by layer (one
 * frame per run of blocks of one layer, each block's layer span written straight from the pool's
 * SharedArrayBuffer: no per-row copies and no staging buffer), then waits for the receiver's Ack.
 * `send` runs sequences on one socket one after another; `open` starts a sequence whose layers the
 * caller writes synchronously as they become ready (several may interleave, frame by frame). The
 * caller keeps its block references until `send` or the opened sequence's `verdict` settles.
 */
import type { Duplex } from 'node:stream';
import type { BlockPool } from './block-pool.js';
import { spanRuns, type ByteRuns } from './pool-layout.js';
import { SpanChecksums } from './span-checksums.js';
import { hashRuns } from './span-hash.js';
import {
  KvArgumentError,
  TransferChecksumError,
  TransferError,
  TransferPeerClosedError,
  TransferRejectedError,
  TransferTimeoutError,
} from './errors.js';
import {
  FrameReader,
  FrameType,
  encodeControl,
  encodeEmpty,
  encodeHeader,
  jsonSink,
  type FrameHeader,
  type Hello,
  type PayloadSink,
  type RejectReason,
  type SequenceHeader,
} from './transfer-protocol.js';

/** Options of the KvTransferSender constructor. */
export interface KvTransferSenderOptions {
  readonly pool: BlockPool;
  /** A connected net.Socket (TCP or Unix) or any Duplex byte stream. */
  readonly socket: Duplex;
  /** How long to wait for the receiver's verdict after the last frame (default 30 s). */
  readonly ackTimeoutMs?: number;
  /** Upper bound of one Layer frame's payload (default 1 MiB; at least one block span). */
  readonly maxFrameBytes?: number;
  /**
   * Where payload checksums (span-hash.ts) are computed: 'inline' (default: on this thread) or
   * 'worker' (a worker thread reads the spans from the pool's shared memory while this thread
   * writes earlier frames). NOTE: the SIMD word sum runs at ~16–20 GB/s, so on a machine with few
   * cores the worker hop costs more than it overlaps (bench:kv measures both); 'worker' runs
   * dist/checksum-worker.js, so it needs the compiled package.
   */
  readonly checksums?: 'worker' | 'inline';
  /** Sent in a Hello frame first, for a receiving endpoint that expects this token. */
  readonly token?: string;
}

/** One sequence to stream with KvTransferSender.open. */
export interface OpenSequenceOptions {
  /** Identifies the sequence on this socket (u32). */
  readonly sequenceId: number;
  /** The sequence's blocks in order; the caller holds a reference on each until `verdict` settles. */
  readonly blockIds: readonly number[];
  readonly tokenCount: number;
  /** Channel id the receiving endpoint matches the sequence by. */
  readonly key?: string;
  /** Receiving side: cancel the sequence if it is not adopted within this many ms. */
  readonly deadlineMs?: number;
  /** Ask the receiver to register the blocks as a cached prefix of these tokens once complete. */
  readonly insert?: readonly number[];
}

/** A sequence opened on a sender: its Begin frame is written; layers follow as the caller writes them. */
export interface OutgoingSequence {
  readonly sequenceId: number;
  /** Layers written so far. */
  readonly layersWritten: number;
  /** True once the verdict settled (acked, rejected, aborted or the connection failed). */
  readonly settled: boolean;
  /**
   * Writes every frame of `layer` now (layers go 0, 1, ...; End follows the last). Synchronous: on
   * a connected TCP socket the kernel takes the bytes at once, so this may run inside a compute
   * loop. Throws the verdict's error once settled, KvArgumentError for a layer out of order.
   */
  writeLayer(layer: number): void;
  /** Abandons the sequence (an Abort frame tells the receiver); `verdict` rejects with `error`. False when already settled. */
  abort(error: Error): boolean;
  /** Resolves on the receiver's Ack; rejects like KvTransferSender.send. */
  readonly verdict: Promise<void>;
}

/** One sequence to send. */
export interface SendSequenceOptions {
  /** Identifies the sequence on this socket (u32). */
  readonly sequenceId: number;
  /** The sequence's blocks in order; the caller holds a reference on each until send settles. */
  readonly blockIds: readonly number[];
  readonly tokenCount: number;
  /** Resolves when `layer` may be sent (e.g. HandoffConsumer.waitForLayer); default: all ready. */
  readonly layerReady?: (layer: number) => Promise<void>;
}

interface PendingAck {
  resolve(): void;
  reject(error: Error): void;
}

/** Streams sequences' KV blocks over a socket to a KvTransferReceiver. */
export class KvTransferSender {
  private readonly pool: BlockPool;
  private readonly socket: Duplex;
  private readonly ackTimeoutMs: number;
  private readonly maxFrameBytes: number;
  private readonly pending = new Map<number, PendingAck>();
  private readonly reader: FrameReader;
  private queue: Promise<void> = Promise.resolve();
  private closedError: TransferError | null = null;
  private readonly checksums: SpanChecksums | null;

  constructor(options: KvTransferSenderOptions) {
    this.pool = options.pool;
    this.socket = options.socket;
    this.ackTimeoutMs = options.ackTimeoutMs ?? 30_000;
    this.maxFrameBytes = options.maxFrameBytes ?? 1024 * 1024;
    this.checksums = options.checksums === 'worker' ? new SpanChecksums(this.pool.handle.memory) : null;
    this.reader = new FrameReader((header) => this.onFrame(header));
    if (options.token !== undefined) this.socket.write(encodeControl(FrameType.Hello, 0, { token: options.token } satisfies Hello));
    this.socket.on('data', (chunk: Buffer) => {
      try {
        this.reader.push(chunk);
      } catch (error) {
        this.fail(error instanceof TransferError ? error : new TransferPeerClosedError(String(error)));
        this.socket.destroy();
      }
    });
    this.socket.on('close', () => {
      this.fail(new TransferPeerClosedError('the receiver closed the connection'));
      this.checksums?.close();
    });
    this.socket.on('error', (error) => this.fail(new TransferPeerClosedError(`socket error: ${error.message}`)));
  }

  /**
   * Sends one sequence; resolves once the receiver has verified every frame and holds the blocks.
   * Rejects with TransferRejectedError (receiver refused: no blocks, no slot), TransferChecksumError,
   * TransferPeerClosedError or TransferTimeoutError.
   */
  send(options: SendSequenceOptions): Promise<void> {
    this.validate(options);
    const run = this.queue.then(() => this.sendNow(options));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Starts streaming one sequence: writes its Begin frame now and returns a handle whose
   * `writeLayer` sends each layer when the caller has it. Throws KvArgumentError on bad options.
   */
  open(options: OpenSequenceOptions): OutgoingSequence {
    this.validate(options);
    const { sequenceId, blockIds } = options;
    const layers = this.pool.geometry.layers;
    const spanBytes = this.pool.layout.spanFloats * 4;
    const perFrame = Math.max(1, Math.floor(this.maxFrameBytes / spanBytes));
    let failure: Error | null = null;
    let settled = false;
    let layersWritten = 0;
    const verdict = new Promise<void>((resolve, reject) => {
      const waiter: PendingAck = {
        resolve: () => {
          settled = true;
          resolve();
        },
        reject: (error) => {
          settled = true;
          failure = error;
          reject(error);
        },
      };
      if (this.closedError) waiter.reject(this.closedError);
      else this.pending.set(sequenceId, waiter);
    });
    verdict.catch(() => undefined);
    if (!settled) this.socket.write(encodeControl(FrameType.Begin, sequenceId, this.sequenceHeader(options)));
    const sender = this;
    return {
      sequenceId,
      get layersWritten() {
        return layersWritten;
      },
      get settled() {
        return settled;
      },
      verdict,
      writeLayer(layer: number): void {
        if (failure !== null) throw failure;
        if (settled) throw new KvArgumentError(`writeLayer: sequence ${sequenceId} already completed`);
        if (layer !== layersWritten) throw new KvArgumentError(`writeLayer: expected layer ${layersWritten}, got ${String(layer)}`);
        for (let start = 0; start < blockIds.length; start += perFrame) {
          const blocks = blockIds.slice(start, start + perFrame);
          const runs = spanRuns(sender.pool.layout, blocks, layer);
          // NOTE: a false return (kernel buffer full) is ignored: the views stay queued in the
          // socket and go out in order; the caller keeps the blocks until the verdict.
          sender.writeFrame(sender.layerFrame(sequenceId, layer, blocks, start, runs, hashRuns(sender.pool.handle.memory, runs)));
        }
        layersWritten++;
        if (layersWritten === layers) sender.socket.write(encodeEmpty(FrameType.End, sequenceId));
      },
      abort(error: Error): boolean {
        const waiter = sender.pending.get(sequenceId);
        if (settled || waiter === undefined) return false;
        sender.pending.delete(sequenceId);
        if (!sender.socket.destroyed) sender.socket.write(encodeEmpty(FrameType.Abort, sequenceId));
        waiter.reject(error);
        return true;
      },
    };
  }

  /** Ends the stream (after queued sends). */
  async close(): Promise<void> {
    await this.queue;
    this.socket.end();
    this.checksums?.close();
  }

  private async sendNow(options: SendSequenceOptions): Promise<void> {
    if (this.closedError) throw this.closedError;
    const { sequenceId, blockIds } = options;
    let settled = false;
    const verdict = new Promise<void>((resolve, reject) => {
      this.pending.set(sequenceId, { resolve, reject });
    }).finally(() => {
      settled = true;
    });
    verdict.catch(() => undefined);
    const g = this.pool.geometry;
    this.socket.write(encodeControl(FrameType.Begin, sequenceId, this.sequenceHeader(options)));
    const spanBytes = this.pool.layout.spanFloats * 4;
    const perFrame = Math.max(1, Math.floor(this.maxFrameBytes / spanBytes));
    try {
      for (let layer = 0; layer < g.layers && !settled; layer++) {
        await options.layerReady?.(layer);
        // NOTE: with a checksum worker every frame of the layer is requested up front, so the
        // worker runs ahead while this thread writes frames whose checksums are known; inline,
        // each frame is hashed just before it is written, so the receiver starts at once.
        const starts: number[] = [];
        for (let start = 0; start < blockIds.length; start += perFrame) starts.push(start);
        const prepare = (start: number): Promise<Buffer[]> =>
          this.prepareLayerFrame(sequenceId, layer, blockIds.slice(start, start + perFrame), start);
        const ahead = this.checksums === null ? null : starts.map((start) => prepare(start));
        ahead?.forEach((frame) => frame.catch(() => undefined));
        for (let i = 0; i < starts.length; i++) {
          const parts = await (ahead?.[i] ?? prepare(starts[i]));
          if (settled) break;
          if (!this.writeFrame(parts)) await this.drained();
        }
      }
    } catch (error) {
      this.pending.delete(sequenceId);
      if (!this.socket.destroyed) this.socket.write(encodeEmpty(FrameType.Abort, sequenceId));
      throw error;
    }
    if (!settled) this.socket.write(encodeEmpty(FrameType.End, sequenceId));
    await this.withTimeout(verdict, sequenceId);
  }

  private sequenceHeader(options: SendSequenceOptions | OpenSequenceOptions): SequenceHeader {
    const g = this.pool.geometry;
    const header: SequenceHeader = { tokenCount: options.tokenCount, blockSize: g.blockSize, layers: g.layers, heads: g.heads, headDim: g.headDim };
    if (!('key' in options)) return header;
    return { ...header, key: options.key, deadlineMs: options.deadlineMs, insert: options.insert };
  }

  /** Builds one Layer frame, its checksum computed here or on the checksum worker. */
  private async prepareLayerFrame(sequenceId: number, layer: number, blocks: readonly number[], blockStart: number): Promise<Buffer[]> {
    const runs = spanRuns(this.pool.layout, blocks, layer);
    const checksum = this.checksums === null ? hashRuns(this.pool.handle.memory, runs) : await this.checksums.checksum(runs);
    return this.layerFrame(sequenceId, layer, blocks, blockStart, runs, checksum);
  }

  /** One Layer frame: header (with the payload's checksum) and zero-copy views of its byte runs. */
  private layerFrame(sequenceId: number, layer: number, blocks: readonly number[], blockStart: number, runs: ByteRuns, checksum: number): Buffer[] {
    const data = this.pool.handle.data;
    const parts = runs.offsets.map((offset, i) => Buffer.from(data, offset, runs.lengths[i]));
    const byteLength = blocks.length * this.pool.layout.spanFloats * 4;
    const header = encodeHeader({ type: FrameType.Layer, sequenceId, layer, blockStart, blockCount: blocks.length, byteLength, checksum });
    return [header, ...parts];
  }

  /** Writes a frame's buffers in one corked batch; false when the socket asks to wait for 'drain'. */
  private writeFrame(parts: readonly Buffer[]): boolean {
    this.socket.cork();
    let ok = true;
    for (const part of parts) ok = this.socket.write(part);
    this.socket.uncork();
    return ok;
  }

  private drained(): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = (): void => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        resolve();
      };
      this.socket.on('drain', done);
      this.socket.on('close', done);
    });
  }

  private async withTimeout(verdict: Promise<void>, sequenceId: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.pending.delete(sequenceId);
        this.socket.write(encodeEmpty(FrameType.Abort, sequenceId));
        reject(new TransferTimeoutError(`sequence ${sequenceId}: no verdict from the receiver within ${this.ackTimeoutMs} ms`));
      }, this.ackTimeoutMs);
    });
    try {
      await Promise.race([verdict, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private onFrame(header: FrameHeader): PayloadSink | null {
    const waiter = this.pending.get(header.sequenceId);
    if (header.type === FrameType.Ack) {
      this.pending.delete(header.sequenceId);
      waiter?.resolve();
      return null;
    }
    if (header.type === FrameType.Nack) {
      return jsonSink<RejectReason>(header, (why) => {
        if (why.reason === 'auth') {
          this.fail(new TransferRejectedError('auth', `the receiving endpoint refused this connection: ${why.message}`));
          return;
        }
        this.pending.delete(header.sequenceId);
        const message = `sequence ${header.sequenceId} rejected by the receiver (${why.reason}): ${why.message}`;
        waiter?.reject(why.reason === 'checksum' ? new TransferChecksumError(message) : new TransferRejectedError(why.reason, message));
      });
    }
    throw new TransferPeerClosedError(`the receiver sent an unexpected ${FrameType[header.type]} frame`);
  }

  private fail(error: TransferError): void {
    this.closedError ??= error;
    for (const waiter of this.pending.values()) waiter.reject(error);
    this.pending.clear();
  }

  private validate(options: SendSequenceOptions | OpenSequenceOptions): void {
    const { sequenceId, blockIds, tokenCount } = options;
    if (!Number.isInteger(sequenceId) || sequenceId < 0 || sequenceId > 0xffffffff) {
      throw new KvArgumentError(`send: sequenceId must be a u32 integer, got ${String(sequenceId)}`);
    }
    const blockSize = this.pool.geometry.blockSize;
    if (!Number.isInteger(tokenCount) || tokenCount < 0) {
      throw new KvArgumentError(`send: tokenCount must be a non-negative integer, got ${String(tokenCount)}`);
    }
    if (!Array.isArray(blockIds) || blockIds.length !== Math.ceil(tokenCount / blockSize)) {
      throw new KvArgumentError(
        `send: blockIds must list ceil(${tokenCount} / ${blockSize}) = ${Math.ceil(tokenCount / blockSize)} blocks`,
      );
    }
    for (const block of blockIds) this.pool.refCount(block);
    if (this.pending.has(sequenceId)) throw new KvArgumentError(`send: sequence ${sequenceId} is already in flight`);
  }
}
