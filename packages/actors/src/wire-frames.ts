/**
 * Frames on a node-to-node socket. One frame:
 *   u32 LE length of the rest | u8 kind | u32 LE link number | [u16 LE target length | target id,
 *   for `in` frames only] | payload (V8-serialized, may be empty)
 * The link number names the sending link on the client side (replies and `closed` notices are
 * routed back by it); an `in` frame names its target actor, so the server keeps no state per link. `FrameWriter` writes the first frame of a turn of the event
 * loop at once and batches the rest of the turn into one socket write; `FrameReader` cuts a byte stream back into frames.
 * Invariants: frames are written and read in order; a frame's payload is handed out as a view of
 * the received bytes only for the duration of the callback (the codec copies what it keeps).
 */
import type { Socket } from 'node:net';
import type { Inbound, ReplyEnvelope } from './protocol.js';

/** What a frame says. */
export type WireFrame =
  /** client -> server: a message or envelope for actor `target` of the server's node. */
  | { readonly kind: 'in'; readonly link: number; readonly target: string; readonly inbound: Inbound }
  /** server -> client: the reply to an ask sent on `link`. */
  | { readonly kind: 'out'; readonly link: number; readonly reply: ReplyEnvelope }
  /** server -> client: the target of `link`'s last frame is not on this node (stopped, or never here). */
  | { readonly kind: 'closed'; readonly link: number };

/** Frame kind codes on the wire. */
export const FRAME_KIND = { in: 1, out: 2, closed: 3 } as const;

/** A frame kind code. */
export type FrameKindCode = (typeof FRAME_KIND)[keyof typeof FRAME_KIND];

const HEADER_BYTES = 9;
/** Bytes after the length field that the header adds (kind + link). */
const HEADER_REST = HEADER_BYTES - 4;
/** A batch this large is written at once instead of waiting for the end of the turn. */
const FLUSH_BYTES = 1 << 20;
/** A frame longer than this is treated as a corrupt stream. */
const MAX_FRAME_BYTES = 1 << 30;

/** Collects frames and writes them to the socket once per turn (or when a batch grows large). */
export class FrameWriter {
  readonly #socket: Socket;
  #kinds: number[] = [];
  #links: number[] = [];
  #targets: (Buffer | null)[] = [];
  #payloads: (Uint8Array | null)[] = [];
  #bytes = 0;
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

  /** Queues one frame; `target` (utf-8 actor id, `in` frames) and `payload` are owned by the writer now. */
  write(kind: FrameKindCode, link: number, target: Buffer | null, payload: Uint8Array | null): void {
    this.#kinds.push(kind);
    this.#links.push(link);
    this.#targets.push(target);
    this.#payloads.push(payload);
    this.#bytes += HEADER_BYTES + (target === null ? 0 : 2 + target.byteLength) + (payload?.byteLength ?? 0);
    if (this.#bytes >= FLUSH_BYTES) this.flush();
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

  /** Writes everything queued as one buffer. */
  flush(): void {
    this.#scheduled = false;
    const count = this.#kinds.length;
    if (count === 0) return;
    const out = Buffer.allocUnsafe(this.#bytes);
    let at = 0;
    for (let i = 0; i < count; i++) {
      const target = this.#targets[i] ?? null;
      const payload = this.#payloads[i] ?? null;
      const length = (target === null ? 0 : 2 + target.byteLength) + (payload?.byteLength ?? 0);
      out.writeUInt32LE(HEADER_REST + length, at);
      out[at + 4] = this.#kinds[i] as number;
      out.writeUInt32LE(this.#links[i] as number, at + 5);
      at += HEADER_BYTES;
      if (target !== null) {
        out.writeUInt16LE(target.byteLength, at);
        out.set(target, at + 2);
        at += 2 + target.byteLength;
      }
      if (payload !== null) {
        out.set(payload, at);
        at += payload.byteLength;
      }
    }
    this.#kinds = [];
    this.#links = [];
    this.#targets = [];
    this.#payloads = [];
    this.#bytes = 0;
    if (!this.#socket.destroyed) this.#socket.write(out);
  }
}

/** Receives one frame: its kind code, link number and the bytes after the header (empty when none). */
export type FrameHandler = (kind: number, link: number, body: Buffer) => void;

/** Splits the body of an `in` frame into its target actor id and its payload. */
export function splitTarget(body: Buffer): { readonly target: string; readonly payload: Buffer } {
  const length = body.readUInt16LE(0);
  return { target: body.toString('utf8', 2, 2 + length), payload: body.subarray(2 + length) };
}

/** Cuts a stream of socket chunks into frames. */
export class FrameReader {
  readonly #onFrame: FrameHandler;
  /** Bytes of an incomplete frame, oldest first. */
  #held: Buffer[] = [];
  #heldBytes = 0;

  constructor(onFrame: FrameHandler) {
    this.#onFrame = onFrame;
  }

  /** Feeds one chunk; calls the handler for every complete frame. Throws on a corrupt stream. */
  push(chunk: Buffer): void {
    let data = chunk;
    if (this.#heldBytes > 0) {
      this.#held.push(chunk);
      this.#heldBytes += chunk.byteLength;
      if (this.#heldBytes < 4 || this.#heldBytes < 4 + this.#frameLength(this.#held)) return;
      data = Buffer.concat(this.#held, this.#heldBytes);
      this.#held = [];
      this.#heldBytes = 0;
    }
    let at = 0;
    while (data.byteLength - at >= 4) {
      const length = data.readUInt32LE(at);
      if (length < HEADER_REST || length > MAX_FRAME_BYTES) throw new RangeError(`corrupt actor frame: length ${length}`);
      if (data.byteLength - at - 4 < length) break;
      this.#onFrame(data[at + 4] as number, data.readUInt32LE(at + 5), data.subarray(at + HEADER_BYTES, at + 4 + length));
      at += 4 + length;
    }
    if (at < data.byteLength) {
      const rest = data.subarray(at);
      this.#held = [rest];
      this.#heldBytes = rest.byteLength;
    }
  }

  /** The length field of the frame that starts in `held` (which holds at least 4 bytes). */
  #frameLength(held: Buffer[]): number {
    const first = held[0] as Buffer;
    if (first.byteLength >= 4) return first.readUInt32LE(0);
    return Buffer.concat(held).readUInt32LE(0);
  }
}
