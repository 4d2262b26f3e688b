/**
 * The GPU host thread's reply area: one SharedArrayBuffer into which the hand-built pipeline
 * reads K/V back (grown, never shrunk). Replies carry windows (offset, length) of it instead of
 * the arrays themselves; the area itself crosses to the model thread once per (re)allocation,
 * on the first reply that has a window of it.
 * NOTE: a SharedArrayBuffer in EVERY reply made the model thread materialise a new buffer object
 * per message, each charged to V8 as external memory of the whole area (16 MiB for 8x512), which
 * forced frequent garbage collections (suspected cause of ms-scale overheads per call).
 * Invariant: one request is served at a time and the model thread stores a reply's K/V before its
 * next request, so a window stays valid until then.
 */
import type { KvWindow, WireKv } from './gpu-protocol.js';

let area = new Float32Array(new SharedArrayBuffer(16));
let unsent: SharedArrayBuffer | null = null;

/** A view of the first `floats` floats of the area (grown as needed; earlier views go stale). */
export function replyArea(floats: number): Float32Array {
  if (area.length < floats) {
    area = new Float32Array(new SharedArrayBuffer(Math.max(floats, 2 * area.length) * 4));
    unsent = area.buffer as SharedArrayBuffer;
  }
  return area.subarray(0, floats);
}

/** `a` as it goes on the wire: a window when it is a view of the current area, else itself. */
export function toWire(a: Float32Array): WireKv {
  return a.buffer === area.buffer ? { offset: a.byteOffset / 4, length: a.length } : a;
}

/** The area if the model thread has not been sent it yet (then marked sent), else null. */
export function takeUnsentArea(): SharedArrayBuffer | null {
  const u = unsent;
  unsent = null;
  return u;
}

/** Whether a wire value is a window of the area. */
export function isWindow(kv: WireKv): kv is KvWindow {
  return !(kv instanceof Float32Array);
}
