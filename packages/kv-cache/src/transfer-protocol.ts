/**
 * Wire format of the cross-process KV stream, and an incremental frame reader.
 *
 * Every frame is a 32-byte little-endian header followed by `byteLength` payload bytes:
 *
 *     offset  size  field
 *          0     4  magic 0x4b564232 ("KVB2")
 *          4     2  frame type (FrameType)
 *          6     2  reserved (0)
 *          8     4  sequence id (u32)
 *         12     4  layer
 *         16     4  first block index within the sequence
 *         20     4  block count
 *         24     4  payload byte length
 *         28     4  payload checksum: span-hash.ts for Layer frames, CRC32 for JSON frames
 *
 * Sender -> receiver: Hello (payload: JSON Hello; first frame of a connection to a receiver that
 * expects a token), Begin (payload: JSON SequenceHeader), Layer (payload: `blockCount` layer
 * spans, each K rows then V rows of one block, exactly as stored in the pool), End, Abort.
 * Receiver -> sender: Ack (sequence verified and complete), Nack (payload: JSON RejectReason).
 * Layers go in ascending order; within a layer, frames cover consecutive block ranges.
 */
import { crc32 } from 'node:zlib';
import { TransferChecksumError, TransferProtocolError } from './errors.js';

// NOTE: "KVB2": Layer payload checksums moved from CRC32 to the SIMD word sum of span-hash.ts.
export const FRAME_MAGIC = 0x4b564232;
export const HEADER_BYTES = 32;
/** Largest payload accepted for a JSON frame (Begin, Nack). */
export const MAX_CONTROL_BYTES = 64 * 1024;

/** Frame types on the wire. */
export enum FrameType {
  Begin = 1,
  Layer = 2,
  End = 3,
  Abort = 4,
  Ack = 5,
  Nack = 6,
  Hello = 7,
}

/** Payload of a Hello frame: the token the receiving endpoint published. */
export interface Hello {
  readonly token: string;
}

/** A decoded frame header. */
export interface FrameHeader {
  readonly type: FrameType;
  readonly sequenceId: number;
  readonly layer: number;
  readonly blockStart: number;
  readonly blockCount: number;
  readonly byteLength: number;
  readonly checksum: number;
}

/** Payload of a Begin frame. */
export interface SequenceHeader {
  readonly tokenCount: number;
  readonly blockSize: number;
  readonly layers: number;
  readonly heads: number;
  readonly headDim: number;
  /** The channel this sequence belongs to (KvTicket.channelId); absent for plain sends. */
  readonly key?: string;
  /** Cancel the sequence on the receiving side if it is not adopted within this many ms. */
  readonly deadlineMs?: number;
  /** Transfer-with-insert: the receiver registers the blocks as a cached prefix of these tokens. */
  readonly insert?: readonly number[];
}

/** Payload of a Nack frame. */
export interface RejectReason {
  readonly reason: 'no-blocks' | 'no-handoff-slot' | 'checksum' | 'cancelled' | 'protocol' | 'deadline' | 'auth';
  readonly message: string;
}

/** Encodes a frame header. */
export function encodeHeader(header: FrameHeader): Buffer {
  const buffer = Buffer.allocUnsafe(HEADER_BYTES);
  buffer.writeUInt32LE(FRAME_MAGIC, 0);
  buffer.writeUInt16LE(header.type, 4);
  buffer.writeUInt16LE(0, 6);
  buffer.writeUInt32LE(header.sequenceId >>> 0, 8);
  buffer.writeUInt32LE(header.layer >>> 0, 12);
  buffer.writeUInt32LE(header.blockStart >>> 0, 16);
  buffer.writeUInt32LE(header.blockCount >>> 0, 20);
  buffer.writeUInt32LE(header.byteLength >>> 0, 24);
  buffer.writeUInt32LE(header.checksum >>> 0, 28);
  return buffer;
}

function decodeHeader(buffer: Buffer): FrameHeader {
  const magic = buffer.readUInt32LE(0);
  if (magic !== FRAME_MAGIC) {
    throw new TransferProtocolError(`frame magic is 0x${magic.toString(16)}, expected 0x${FRAME_MAGIC.toString(16)}`);
  }
  const type = buffer.readUInt16LE(4);
  if (!(type in FrameType)) throw new TransferProtocolError(`unknown frame type ${type}`);
  return {
    type,
    sequenceId: buffer.readUInt32LE(8),
    layer: buffer.readUInt32LE(12),
    blockStart: buffer.readUInt32LE(16),
    blockCount: buffer.readUInt32LE(20),
    byteLength: buffer.readUInt32LE(24),
    checksum: buffer.readUInt32LE(28),
  };
}

/** Receives a frame's payload piece by piece, then is told it is complete. */
export interface PayloadSink {
  /** Payload bytes that arrived in a chunk (copy them: the chunk may be reused). */
  write(chunk: Uint8Array): void;
  end(): void;
  /** Present when the payload may be read straight into its destination (FrameReader.nextReadBuffer). */
  readonly direct?: DirectTarget;
}

/** Where a payload's next bytes may be read to in place. */
export interface DirectTarget {
  /** The destination of the next payload bytes (non-empty, never past the payload's end). */
  view(): Uint8Array;
  /** `bytes` were read into the last view. */
  advance(bytes: number): void;
}

/** What the buffer last handed out by FrameReader.nextReadBuffer holds. */
type ReadInto = 'header' | 'direct' | 'staged';

/** Staging for payloads without a direct target (control frames, discarded frames). */
const STAGING_BYTES = 64 * 1024;

/**
 * Splits a byte stream into frames. For each header, `onFrame` returns the sink of its payload
 * (null for frames without one). Payload bytes are handed over as slices of the incoming chunks
 * (no intermediate copy).
 */
export class FrameReader {
  private readonly onFrame: (header: FrameHeader) => PayloadSink | null;
  private readonly header = Buffer.allocUnsafe(HEADER_BYTES);
  private headerFill = 0;
  private remaining = 0;
  private sink: PayloadSink | null = null;
  private staging: Buffer | null = null;
  private readInto: ReadInto = 'header';

  constructor(onFrame: (header: FrameHeader) => PayloadSink | null) {
    this.onFrame = onFrame;
  }

  /** True when the stream stopped between frames. */
  get atBoundary(): boolean {
    return this.headerFill === 0 && this.remaining === 0;
  }

  /** Consumes bytes; throws TransferProtocolError on a malformed header. */
  push(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.remaining === 0) {
        const take = Math.min(HEADER_BYTES - this.headerFill, chunk.length - at);
        chunk.copy(this.header, this.headerFill, at, at + take);
        this.headerFill += take;
        at += take;
        if (this.headerFill === HEADER_BYTES) this.startFrame();
      } else {
        const take = Math.min(this.remaining, chunk.length - at);
        this.sink?.write(chunk.subarray(at, at + take));
        this.remaining -= take;
        at += take;
        if (this.remaining === 0) this.finishFrame();
      }
    }
  }

  /**
   * For sockets that read into caller-chosen memory (net.Socket `onread`): where the next read
   * should land. It never extends past the current header or payload, so each frame's payload can
   * land in place (its sink's `direct` target) and headers in the reader's own buffer.
   */
  nextReadBuffer(): Uint8Array {
    if (this.remaining === 0) {
      this.readInto = 'header';
      return this.header.subarray(this.headerFill);
    }
    const direct = this.sink?.direct;
    if (direct !== undefined) {
      this.readInto = 'direct';
      return direct.view();
    }
    this.readInto = 'staged';
    this.staging ??= Buffer.allocUnsafe(STAGING_BYTES);
    return this.staging.subarray(0, Math.min(STAGING_BYTES, this.remaining));
  }

  /** `bytes` were read into the buffer nextReadBuffer returned last; throws like push. */
  didRead(bytes: number): void {
    if (this.readInto === 'header') {
      this.headerFill += bytes;
      if (this.headerFill === HEADER_BYTES) this.startFrame();
      return;
    }
    if (this.readInto === 'direct') this.sink?.direct?.advance(bytes);
    else if (this.staging !== null) this.sink?.write(this.staging.subarray(0, bytes));
    this.remaining -= bytes;
    if (this.remaining === 0) this.finishFrame();
  }

  private startFrame(): void {
    this.headerFill = 0;
    const header = decodeHeader(this.header);
    this.sink = this.onFrame(header);
    this.remaining = header.byteLength;
    if (this.remaining === 0) this.finishFrame();
  }

  private finishFrame(): void {
    const sink = this.sink;
    this.sink = null;
    sink?.end();
  }
}

/** Encodes a control frame (JSON payload with its checksum). */
export function encodeControl(type: FrameType, sequenceId: number, value: unknown): Buffer {
  const payload = Buffer.from(JSON.stringify(value), 'utf8');
  const header = encodeHeader({
    type,
    sequenceId,
    layer: 0,
    blockStart: 0,
    blockCount: 0,
    byteLength: payload.length,
    checksum: crc32(payload),
  });
  return Buffer.concat([header, payload]);
}

/** Encodes a frame without payload. */
export function encodeEmpty(type: FrameType, sequenceId: number): Buffer {
  return encodeHeader({ type, sequenceId, layer: 0, blockStart: 0, blockCount: 0, byteLength: 0, checksum: 0 });
}

/** A sink that collects a small JSON payload, verifies its checksum and parses it at the end. */
export function jsonSink<T>(header: FrameHeader, onValue: (value: T) => void): PayloadSink {
  if (header.byteLength > MAX_CONTROL_BYTES) {
    throw new TransferProtocolError(`control frame ${FrameType[header.type]} has ${header.byteLength} bytes (max ${MAX_CONTROL_BYTES})`);
  }
  const parts: Buffer[] = [];
  return {
    write(chunk) {
      parts.push(Buffer.from(chunk));
    },
    end() {
      const payload = Buffer.concat(parts);
      if (crc32(payload) !== header.checksum) {
        throw new TransferChecksumError(`control frame ${FrameType[header.type]} of sequence ${header.sequenceId} failed its checksum`);
      }
      let value: T;
      try {
        value = JSON.parse(payload.toString('utf8')) as T;
      } catch {
        throw new TransferProtocolError('control frame payload is not valid JSON');
      }
      onValue(value);
    },
  };
}
