/**
 * Frames on a node-to-node socket. One frame:
 *   u32 LE length of the rest | u8 kind | u8 flags | u32 LE link number | u32 LE ask id |
 *   [u16 LE target length | target id, for `in` and `ask` frames] | payload (V8-serialized, may be empty)
 * The link number names the sending link on the client side (replies and `closed` notices are
 * routed back by it); `in` and `ask` frames name their target actor, so the server keeps no state
 * per link. An ask's id and its refs flag travel in the header and its payload is the bare
 * message (a reply's payload the bare value), so V8 serializes no envelope around them. What each
 * kind means is `WireFrame` (protocol.ts). `FrameWriter` writes the first frame of a turn of the event
 * loop at once and batches the rest of the turn into few socket writes; `FrameReader` cuts a byte stream back into frames.
 * Invariants: frames are written and read in order; a frame's payload is handed out as a view of
 * the received bytes only for the duration of the callback (the codec copies what it keeps).
 */
import type { Socket } from 'node:net';
import type { WireFrame } from './protocol.js';

/** Frame kind codes on the wire. */
export const FRAME_KIND = { in: 1, ask: 2, reply: 3, fail: 4, closed: 5 } as const satisfies Record<WireFrame['kind'], number>;

/** Flags bit: the payload holds encoded refs. */
export const FRAME_REFS = 1;

/** A frame kind code. */
export type FrameKindCode = (typeof FRAME_KIND)[keyof typeof FRAME_KIND];

const HEADER_BYTES = 14;
/** Bytes after the length field that the header adds (kind, flags, link, ask id). */
const HEADER_REST = HEADER_BYTES - 4;
/** Queued bytes this many are written at once instead of waiting for the end of the turn. */
const FLUSH_BYTES = 1 << 16;
/** Size of a write slab (a larger frame gets a slab of its own). */
const SLAB_BYTES = 1 << 18;
/** A frame longer than this is treated as a corrupt stream. */
const MAX_FRAME_BYTES = 1 << 30;

/**
 * Writes frames to a socket: the first frame of a turn at once, the rest of a synchronous burst
 * together at the end of the turn. Frames are copied into a slab as they are queued (no per-frame
 * buffer lives until the flush); flushing writes the slab's new bytes as one slice.
 * NOTE: bytes of a slab already handed to the socket are never written again, so slices in flight
 * stay intact while later frames are appended after them.
 */
export class FrameWriter {
  readonly #socket: Socket;
  #slab: Buffer = Buffer.allocUnsafeSlow(SLAB_BYTES);
  /** Start of the bytes not yet handed to the socket. */
  #start = 0;
  /** End of the queued bytes. */
  #end = 0;
  #scheduled = false;
  /** True from the first frame of a turn until the turn's microtasks run. */
  #busy = false;
  readonly #flush = (): void => this.flush();
  readonly #idle = (): void => {
    this.#busy = false;
  };

  constructor(socket: Socket) {
    this.#socket = socket;
  }

  /** Queues one frame; `target` is the utf-8 actor id of an `in` or `ask` frame. The arguments are copied. */
  write(kind: FrameKindCode, flags: number, link: number, ask: number, target: Buffer | null, payload: Uint8Array | null): void {
    const length = (target === null ? 0 : 2 + target.byteLength) + (payload?.byteLength ?? 0);
    const size = HEADER_BYTES + length;
    if (this.#end + size > this.#slab.byteLength) this.#renew(size);
    const out = this.#slab;
    let at = this.#end;
    out.writeUInt32LE(HEADER_REST + length, at);
    out[at + 4] = kind;
    out[at + 5] = flags;
    out.writeUInt32LE(link, at + 6);
    out.writeUInt32LE(ask, at + 10);
    at += HEADER_BYTES;
    if (target !== null) {
      out.writeUInt16LE(target.byteLength, at);
      out.set(target, at + 2);
      at += 2 + target.byteLength;
    }
    if (payload !== null) out.set(payload, at);
    this.#end += size;
    if (this.#end - this.#start >= FLUSH_BYTES) this.flush();
    else if (!this.#busy) {
      // NOTE: the first frame of a turn leaves at once (as a postMessage would, even if the
      // sender then blocks); the rest of a synchronous burst shares one write at the turn's end.
      this.#busy = true;
      queueMicrotask(this.#idle);
      this.flush();
    } else if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(this.#flush);
    }
  }

  /** Hands every queued byte to the socket. */
  flush(): void {
    this.#scheduled = false;
    if (this.#end === this.#start) return;
    const bytes = this.#slab.subarray(this.#start, this.#end);
    this.#start = this.#end;
    if (!this.#socket.destroyed) this.#socket.write(bytes);
  }

  /** Flushes and starts a new slab with room for at least `size` bytes. */
  #renew(size: number): void {
    this.flush();
    this.#slab = Buffer.allocUnsafeSlow(Math.max(SLAB_BYTES, size));
    this.#start = 0;
    this.#end = 0;
  }
}

/** Receives one frame: its header fields and the bytes after the header (empty when none). */
export type FrameHandler = (kind: number, flags: number, link: number, ask: number, body: Buffer) => void;

/** Splits the body of an `in` or `ask` frame into its target actor id and its payload. */
export function splitTarget(body: Buffer): { readonly target: string; readonly payload: Buffer } {
  const length = body.readUInt16LE(0);
  return { target: body.toString('utf8', 2, 2 + length), payload: body.subarray(2 + length) };
}

/** The length field at `at`; throws when no frame can be that long (a corrupt stream). */
function checkedLength(data: Buffer, at: number): number {
  const length = data.readUInt32LE(at);
  if (length < HEADER_REST || length > MAX_FRAME_BYTES) throw new RangeError(`corrupt actor frame: length ${length}`);
  return length;
}

/** Cuts a stream of socket chunks into frames. */
export class FrameReader {
  readonly #onFrame: FrameHandler;
  /** Bytes of an incomplete frame, oldest first. */
  #held: Buffer[] = [];
  #heldBytes = 0;
  /** Total bytes of the held frame (length field included), once its length field is complete. */
  #need = 0;

  constructor(onFrame: FrameHandler) {
    this.#onFrame = onFrame;
  }

  /** Feeds one chunk; calls the handler for every complete frame. Throws on a corrupt stream. */
  push(chunk: Buffer): void {
    let data = chunk;
    if (this.#heldBytes > 0) {
      this.#held.push(chunk);
      this.#heldBytes += chunk.byteLength;
      if (this.#need === 0 && this.#heldBytes >= 4) {
        const head = Buffer.concat(this.#held, this.#heldBytes);
        this.#held = [head];
        this.#need = 4 + checkedLength(head, 0);
      }
      if (this.#need === 0 || this.#heldBytes < this.#need) return;
      data = Buffer.concat(this.#held, this.#heldBytes);
      this.#held = [];
      this.#heldBytes = 0;
      this.#need = 0;
    }
    let at = 0;
    while (data.byteLength - at >= 4) {
      const length = checkedLength(data, at);
      if (data.byteLength - at - 4 < length) break;
      const body = data.subarray(at + HEADER_BYTES, at + 4 + length);
      this.#onFrame(data[at + 4] as number, data[at + 5] as number, data.readUInt32LE(at + 6), data.readUInt32LE(at + 10), body);
      at += 4 + length;
    }
    if (at < data.byteLength) {
      const rest = data.subarray(at);
      this.#held = [rest];
      this.#heldBytes = rest.byteLength;
      this.#need = rest.byteLength >= 4 ? 4 + checkedLength(rest, 0) : 0;
    }
  }
}
