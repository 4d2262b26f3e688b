/**
 * Sending side of the cross-process KV stream. Streams a sequence's blocks layer by layer (one
 * frame per run of blocks of one layer, each block's layer span written straight from the pool's
 * SharedArrayBuffer: no per-row copies and no staging buffer), then waits for the receiver's Ack.
 * Sequences on one socket go one after another. The caller keeps its block references until
 * `send` settles.
 */
import type { Duplex } from 'node:stream';
import type { BlockPool } from './block-pool.js';
import { spanRuns } from './pool-layout.js';
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
    const header: SequenceHeader = {
      tokenCount: options.tokenCount,
      blockSize: g.blockSize,
      layers: g.layers,
      heads: g.heads,
      headDim: g.headDim,
    };
    this.socket.write(encodeControl(FrameType.Begin, sequenceId, header));
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

  /** Builds one Layer frame: header (with the payload's checksum) and zero-copy views of its byte runs. */
  private async prepareLayerFrame(sequenceId: number, layer: number, blocks: readonly number[], blockStart: number): Promise<Buffer[]> {
    const runs = spanRuns(this.pool.layout, blocks, layer);
    const data = this.pool.handle.data;
    const parts = runs.offsets.map((offset, i) => Buffer.from(data, offset, runs.lengths[i]));
    const checksum = this.checksums === null ? hashRuns(this.pool.handle.memory, runs) : await this.checksums.checksum(runs);
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

  private validate(options: SendSequenceOptions): void {
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
