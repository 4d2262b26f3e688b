/**
 * Receiving side of the cross-process KV stream. For each sequence it allocates blocks in THIS
 * process's pool, places each Layer frame's payload into the blocks' layer spans (layer-sink.ts),
 * verifies its checksum (span-hash.ts) there, and publishes a layer on a handoff in this pool
 * once all its frames are verified, so local consumers get the same layer-wise semantics as an
 * in-process handoff (waitForLayer, read, adopt). A failed sequence (checksum, peer gone, timeout,
 * sender abort) cancels its handoff and releases its blocks: nothing half-written is adoptable.
 *
 * Three ways in: given a `socket` (any Duplex), it copies the socket's chunks into the spans;
 * given a socket a server `accepted` (paused on connect), it takes the connection over with
 * net.Socket `onread` (in-place-socket.ts); told to `connect` to the sender, it dials with
 * `onread`. With `onread` the kernel reads payloads straight into the pool's memory: no copy and
 * no per-chunk allocation.
 */
import { connect, type OnReadOpts } from 'node:net';
import type { Duplex } from 'node:stream';
import type { BlockPool } from './block-pool.js';
import type { BlockTable } from './block-table.js';
import {
  KvArgumentError,
  KvCacheError,
  TransferChecksumError,
  TransferError,
  TransferPeerClosedError,
  TransferProtocolError,
  TransferRejectedError,
  TransferTimeoutError,
  TransferTruncatedError,
} from './errors.js';
import { spanRuns } from './pool-layout.js';
import { createLayerSink } from './layer-sink.js';
import { SharedCopier } from './shared-copy.js';
import { SpanChecksums } from './span-checksums.js';
import { hashRuns } from './span-hash.js';
import { IdleTimer } from './idle-timer.js';
import { takeOverForInPlaceReads } from './in-place-socket.js';
import type { HandoffProducer } from './handoff.js';
import type { IncomingSequence, KvTransferReceiverOptions, SequenceRejection, TransferEndpoint } from './transfer-receiver-options.js';
import {
  FrameReader,
  FrameType,
  encodeControl,
  encodeEmpty,
  jsonSink,
  type FrameHeader,
  type Hello,
  type PayloadSink,
  type RejectReason,
  type SequenceHeader,
} from './transfer-protocol.js';

export type { IncomingSequence, KvTransferReceiverOptions, ReceiverCommonOptions, SequenceRejection, TransferEndpoint } from './transfer-receiver-options.js';

interface Inflight {
  readonly table: BlockTable;
  readonly producer: HandoffProducer;
  readonly blockCount: number;
  /** Layer being verified, and its blocks verified so far. */
  layer: number;
  blocksInLayer: number;
  /** Where the next Layer frame must start (advanced as frames arrive, before verification). */
  nextLayer: number;
  nextBlock: number;
  /** Verification and End handling, in frame order. */
  chain: Promise<void>;
  /** True while one of its Layer frames is being received into its blocks. */
  receiving: boolean;
  settle(error: TransferError | null): void;
}

/** Accepts sequences from a KvTransferSender into the local pool. */
export class KvTransferReceiver {
  private readonly pool: BlockPool;
  private readonly socket: Duplex;
  private readonly onSequence: (incoming: IncomingSequence) => void;
  private readonly onReject: ((rejection: SequenceRejection) => void) | undefined;
  /** The token a Hello must carry first; null once it did (or when none is expected). */
  private awaitingToken: string | null;
  private readonly inflight = new Map<number, Inflight>();
  /**
   * Failed sequences whose blocks are still the target of a frame being received: released when
   * that frame ends or the socket closes. NOTE: a failure (a checksum from a worker, a cancelled
   * local handoff) can land while a later frame's payload is arriving; releasing at once would let
   * the rest of that payload (already handed to the kernel as a read target, or copied from the next
   * chunk) land in blocks someone else may have been given.
   */
  private readonly releaseAfterFrame = new Set<Inflight>();
  /** The sender's side of the stream ended: no more bytes can land anywhere. */
  private inputEnded = false;
  private readonly reader: FrameReader;
  private readonly idle: IdleTimer;
  private readonly verifier: SpanChecksums | null;
  private readonly copier: SharedCopier;
  private readonly bytes: Uint8Array;

  /** Resolves once the socket is connected (at once for a given socket); rejects if dialing fails. */
  readonly ready: Promise<void>;
  /** Resolves once the connection closed (every in-flight sequence failed and released by then). */
  readonly closed: Promise<void>;

  constructor(options: KvTransferReceiverOptions) {
    this.pool = options.pool;
    this.onSequence = options.onSequence;
    this.onReject = options.onReject;
    this.awaitingToken = options.token ?? null;
    const idleTimeoutMs = options.idleTimeoutMs ?? 30_000;
    this.idle = new IdleTimer(idleTimeoutMs, () => this.inflight.size > 0, () => {
      this.failAll(new TransferTimeoutError(`no data from the sender for ${idleTimeoutMs} ms`));
      this.socket.destroy();
    });
    this.verifier = options.checksums === 'worker' ? new SpanChecksums(this.pool.handle.memory) : null;
    this.copier = new SharedCopier(this.pool.handle.data);
    this.bytes = new Uint8Array(this.pool.handle.data);
    this.reader = new FrameReader((header) => this.onFrame(header));
    if (options.accepted !== undefined) {
      const taken = takeOverForInPlaceReads(options.accepted, this.inPlaceReads());
      this.socket = taken ?? options.accepted;
      if (taken === null) this.copyChunks(options.accepted);
      // NOTE: acks go out at once (a no-op on a Unix socket).
      (taken ?? options.accepted).setNoDelay(true);
      this.ready = Promise.resolve();
    } else if (options.socket !== undefined) {
      this.socket = options.socket;
      this.copyChunks(this.socket);
      this.ready = Promise.resolve();
    } else {
      this.socket = this.dial(options.connect);
      this.ready = new Promise<void>((resolve, reject) => {
        this.socket.once('connect', resolve);
        this.socket.once('error', reject);
      });
      this.ready.catch(() => undefined);
    }
    this.socket.on('end', () => this.onEnd());
    let closed: () => void = () => undefined;
    this.closed = new Promise<void>((resolve) => (closed = resolve));
    this.socket.on('close', () => {
      this.failAll(new TransferPeerClosedError('the sender closed the connection'));
      this.releaseDeferred();
      this.verifier?.close();
      closed();
    });
    this.socket.on('error', (error) => this.failAll(new TransferPeerClosedError(`socket error: ${error.message}`)));
  }

  /**
   * Cancels one in-flight sequence from the receiving side: its handoff is cancelled, its blocks
   * released and the sender told (Nack 'cancelled'). False when it is not in flight.
   */
  cancel(sequenceId: number, message = 'cancelled by the receiving side', reason: 'cancelled' | 'deadline' = 'cancelled'): boolean {
    if (!this.inflight.has(sequenceId)) return false;
    this.fail(sequenceId, new TransferRejectedError(reason, `sequence ${sequenceId}: ${message}`), reason);
    return true;
  }

  /** Fails every in-flight sequence and closes the socket. */
  close(): void {
    this.failAll(new TransferPeerClosedError('the receiver was closed'));
    this.socket.destroy();
    this.verifier?.close();
  }

  /** A socket to `endpoint` whose reads land where the frame reader says (in place for payloads). */
  private dial(endpoint: TransferEndpoint): Duplex {
    if (!Number.isInteger(endpoint.port) || endpoint.port <= 0 || endpoint.port > 65535) {
      throw new KvArgumentError(`KvTransferReceiver: connect.port must be an integer in 1..65535, got ${String(endpoint.port)}`);
    }
    const socket = connect({ port: endpoint.port, host: endpoint.host ?? '127.0.0.1', onread: this.inPlaceReads() });
    socket.setNoDelay(true);
    return socket;
  }

  /** `onread` options that read headers into the frame reader and payloads into their spans. */
  private inPlaceReads(): OnReadOpts {
    return {
      buffer: () => this.reader.nextReadBuffer(),
      callback: (bytes: number) => {
        this.idle.touch();
        try {
          this.reader.didRead(bytes);
        } catch (error) {
          this.consumeFailed(error);
        }
        return true;
      },
    };
  }

  /** Copies each chunk of `socket` into place (for streams that cannot read in place). */
  private copyChunks(socket: Duplex): void {
    socket.on('data', (chunk: Buffer) => {
      this.idle.touch();
      try {
        this.reader.push(chunk);
      } catch (error) {
        this.consumeFailed(error);
      }
    });
    // NOTE: an accepted socket that could not be taken over is still paused on connect.
    socket.resume();
  }

  private consumeFailed(error: unknown): void {
    this.failAll(error instanceof TransferError ? error : new TransferProtocolError(String(error)));
    this.socket.destroy();
  }

  private onEnd(): void {
    this.inputEnded = true;
    if (!this.reader.atBoundary) {
      this.failAll(new TransferTruncatedError('the stream ended in the middle of a frame'));
    } else {
      this.failAll(new TransferPeerClosedError('the sender ended the stream with sequences in flight'));
    }
    this.releaseDeferred();
    this.socket.end();
  }

  /** Releases the blocks of failed sequences kept for a frame that can no longer arrive. */
  private releaseDeferred(): void {
    for (const seq of this.releaseAfterFrame) seq.table.release();
    this.releaseAfterFrame.clear();
  }

  private onFrame(header: FrameHeader): PayloadSink | null {
    if (this.awaitingToken !== null) return this.hello(header, this.awaitingToken);
    switch (header.type) {
      case FrameType.Begin:
        return jsonSink<SequenceHeader>(header, (value) => this.begin(header.sequenceId, value));
      case FrameType.Layer:
        return this.layerSink(header);
      case FrameType.End: {
        const seq = this.inflight.get(header.sequenceId);
        if (seq !== undefined) seq.chain = seq.chain.then(() => this.end(header.sequenceId, seq));
        return null;
      }
      case FrameType.Abort:
        this.fail(header.sequenceId, new TransferPeerClosedError(`sequence ${header.sequenceId} aborted by the sender`));
        return null;
      default:
        throw new TransferProtocolError(`the sender sent an unexpected ${FrameType[header.type]} frame`);
    }
  }

  /** The first frame of a connection that must authenticate: a Hello with the expected token. */
  private hello(header: FrameHeader, token: string): PayloadSink {
    const refuse = (message: string): never => {
      this.reject(0, 'auth', message);
      throw new TransferProtocolError(message);
    };
    if (header.type !== FrameType.Hello) return refuse(`the first frame must be Hello, got ${FrameType[header.type]}`);
    return jsonSink<Hello>(header, (hello) => {
      if (typeof hello?.token !== 'string' || hello.token !== token) refuse('the Hello frame carried a wrong token');
      this.awaitingToken = null;
    });
  }

  private begin(sequenceId: number, header: SequenceHeader): void {
    const g = this.pool.geometry;
    if (this.inflight.has(sequenceId)) throw new TransferProtocolError(`sequence ${sequenceId} began twice`);
    const key = typeof header.key === 'string' ? header.key : null;
    const insert = header.insert ?? null;
    if (insert !== null && !(Array.isArray(insert) && insert.length <= header.tokenCount && insert.every((t) => Number.isInteger(t)))) {
      return this.reject(sequenceId, 'protocol', 'insert must list at most tokenCount integer token ids', key);
    }
    if (header.deadlineMs !== undefined && !(typeof header.deadlineMs === 'number' && header.deadlineMs >= 0 && header.deadlineMs !== Infinity)) {
      return this.reject(sequenceId, 'protocol', `deadlineMs ${String(header.deadlineMs)} is invalid`, key);
    }
    if (header.blockSize !== g.blockSize || header.layers !== g.layers || header.heads !== g.heads || header.headDim !== g.headDim) {
      return this.reject(sequenceId, 'protocol', `geometry ${JSON.stringify(header)} does not match the receiving pool`, key);
    }
    const table = this.pool.createTable();
    if (!Number.isInteger(header.tokenCount) || header.tokenCount < 0) {
      return this.reject(sequenceId, 'protocol', `tokenCount ${String(header.tokenCount)} is invalid`, key);
    }
    if (!table.ensureCapacity(header.tokenCount)) {
      table.release();
      return this.reject(sequenceId, 'no-blocks', `the pool cannot supply ${Math.ceil(header.tokenCount / g.blockSize)} blocks`, key);
    }
    const producer = this.pool.openHandoff(table, { tokenCount: header.tokenCount, sequenceId: key ?? String(sequenceId), deadlineMs: header.deadlineMs });
    if (producer === null) {
      table.release();
      return this.reject(sequenceId, 'no-handoff-slot', 'every handoff slot of the receiving pool is in use', key);
    }
    let settle: (error: TransferError | null) => void = () => undefined;
    const done = new Promise<void>((resolve, reject) => {
      settle = (error) => (error === null ? resolve() : reject(error));
    });
    done.catch(() => undefined);
    const blockCount = table.blockIds.length;
    this.inflight.set(sequenceId, { table, producer, blockCount, layer: 0, blocksInLayer: 0, nextLayer: 0, nextBlock: 0, chain: Promise.resolve(), receiving: false, settle });
    this.onSequence({ sequenceId, key, insert, tokenCount: header.tokenCount, deadlineMs: header.deadlineMs ?? null, consumer: this.pool.acceptHandoff(producer.descriptor), done });
    if (blockCount === 0) {
      for (let layer = 0; layer < g.layers; layer++) producer.publishLayer(layer);
    }
  }

  private layerSink(header: FrameHeader): PayloadSink {
    const seq = this.inflight.get(header.sequenceId);
    const spanBytes = this.pool.layout.spanFloats * 4;
    if (header.byteLength !== header.blockCount * spanBytes) {
      throw new TransferProtocolError(`layer frame of sequence ${header.sequenceId}: ${header.byteLength} bytes for ${header.blockCount} blocks`);
    }
    if (seq === undefined) return { write: () => undefined, end: () => undefined }; // a rejected sequence: discard
    if (header.layer !== seq.nextLayer || header.blockStart !== seq.nextBlock || header.blockStart + header.blockCount > seq.blockCount) {
      throw new TransferProtocolError(
        `sequence ${header.sequenceId}: got layer ${header.layer} blocks [${header.blockStart}, +${header.blockCount}), expected layer ${seq.nextLayer} from block ${seq.nextBlock}`,
      );
    }
    seq.nextBlock += header.blockCount;
    if (seq.nextBlock === seq.blockCount) {
      seq.nextLayer++;
      seq.nextBlock = 0;
    }
    const runs = spanRuns(this.pool.layout, seq.table.blockIds.slice(header.blockStart, header.blockStart + header.blockCount), header.layer);
    seq.receiving = true;
    const verify = (): void => {
      seq.receiving = false;
      if (this.releaseAfterFrame.delete(seq)) {
        seq.table.release();
        return;
      }
      const verified = this.verifier === null ? Promise.resolve(hashRuns(this.pool.handle.memory, runs)) : this.verifier.checksum(runs);
      seq.chain = seq.chain
        .then(() => verified)
        .then(
          (actual) => this.layerArrived(header, seq, actual),
          (error: unknown) => this.fail(header.sequenceId, error instanceof TransferError ? error : new TransferProtocolError(String(error)), 'protocol'),
        );
    };
    return createLayerSink({ bytes: this.bytes, copier: this.copier, runs, onComplete: verify });
  }

  private layerArrived(header: FrameHeader, seq: Inflight, checksum: number): void {
    if (this.inflight.get(header.sequenceId) !== seq) return;
    if (checksum !== header.checksum) {
      const message = `sequence ${header.sequenceId} layer ${header.layer} blocks [${header.blockStart}, +${header.blockCount}): checksum ${checksum} != header ${header.checksum}`;
      this.fail(header.sequenceId, new TransferChecksumError(message), 'checksum');
      return;
    }
    seq.blocksInLayer += header.blockCount;
    if (seq.blocksInLayer < seq.blockCount) return;
    try {
      seq.producer.publishLayer(seq.layer);
    } catch (error) {
      const message = error instanceof KvCacheError ? error.message : String(error);
      this.fail(header.sequenceId, new TransferPeerClosedError(`sequence ${header.sequenceId}: local handoff ended: ${message}`), 'cancelled');
      return;
    }
    seq.layer++;
    seq.blocksInLayer = 0;
  }

  private end(sequenceId: number, seq: Inflight): void {
    if (this.inflight.get(sequenceId) !== seq) return;
    if (seq.layer !== this.pool.geometry.layers) {
      this.fail(sequenceId, new TransferTruncatedError(`sequence ${sequenceId} ended after ${seq.layer} layers`), 'protocol');
      return;
    }
    this.inflight.delete(sequenceId);
    seq.table.release();
    this.socket.write(encodeEmpty(FrameType.Ack, sequenceId));
    seq.settle(null);
    this.idle.disarmIfIdle();
  }

  /** Tells the sender a sequence failed; `key` given: it was refused at its Begin (onReject hears of it). */
  private reject(sequenceId: number, reason: RejectReason['reason'], message: string, key?: string | null): void {
    if (!this.socket.destroyed) this.socket.write(encodeControl(FrameType.Nack, sequenceId, { reason, message }));
    if (key !== undefined) this.onReject?.({ sequenceId, key, reason, message });
  }

  /** Cancels a sequence's handoff, releases its blocks, tells the sender (when `reason` is given). */
  private fail(sequenceId: number, error: TransferError, reason?: RejectReason['reason']): void {
    const seq = this.inflight.get(sequenceId);
    if (seq === undefined) return;
    this.inflight.delete(sequenceId);
    seq.producer.cancel();
    if (seq.receiving && !this.socket.destroyed && !this.inputEnded) this.releaseAfterFrame.add(seq);
    else seq.table.release();
    if (reason !== undefined) this.reject(sequenceId, reason, error.message);
    seq.settle(error);
    this.idle.disarmIfIdle();
  }

  private failAll(error: TransferError): void {
    for (const sequenceId of [...this.inflight.keys()]) this.fail(sequenceId, error);
    this.idle.disarmIfIdle();
  }
}
