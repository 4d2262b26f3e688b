/// <reference types="@webgpu/types" />
/**
 * The read-back of one hand-built forward call: maps its staging buffers in order (a streamed
 * prefill's per-layer K/V buffers then the output, or a decode's one buffer of K/V then output), copies the K/V
 * rows into the host thread's shared reply area (reply-area.ts) and hands streamed layers on as
 * soon as they are there. The last streamed layer goes as its K half, then its V half: the model
 * thread stores the K rows while the V rows are copied (the call's tail).
 * Invariants: every buffer it maps is unmapped before it returns or throws (a later call maps it
 * again); views it hands on stay valid until the next call.
 */
import type { KvPart } from './gpu-protocol.js';
import { replyArea } from './reply-area.js';

/** What to read back besides K/V: logits of every row, of the last row, argmax ids, or nothing. */
export type FastOutput = 'logits' | 'last' | 'ids' | 'none';

/**
 * Receives one layer's rows (a view valid until the next run): [2, M, C] for 'kv', [M, C] for 'k'
 * or 'v' (a streamed prefill's last layer comes as 'k' then 'v').
 */
export type LayerSink = (layer: number, part: KvPart, rows: Float32Array) => void;

/** What one call returns. */
export interface FastResult {
  logits: Float32Array | null;
  ids: Int32Array | null;
  /** [nLayer, 2, M, C] (per layer the M K rows, then the M V rows); null when sent to `onLayer` or not read. */
  kv: Float32Array | null;
}

/** Host-side times of one run, in ms from its start (profile). */
export interface RunTimeline {
  /** Every command buffer encoded and submitted. */
  submitted: number;
  /** Per K/V read-back buffer: when its map resolved and when its rows were in the reply area. */
  mapped: number[];
  copied: number[];
  /** The result was complete. */
  done: number;
}

/** One call's read-back: its submitted staging buffers and where the rows go. */
export interface ReadBackCall {
  nLayer: number;
  output: FastOutput;
  /** Bytes of the output in outStaging (0: none). */
  outBytes: number;
  /** Bytes of one layer's K/V rows (0: K/V not read). */
  kvBytes: number;
  /** Per layer K/V staging of a streamed prefill, or empty (then all layers are in kvStaging). */
  layerStaging: GPUBuffer[];
  kvStaging: GPUBuffer;
  outStaging: GPUBuffer;
  /** The output follows the K/V rows in kvStaging (a decode: one map) instead of being in outStaging. */
  outInKv: boolean;
  onLayer: LayerSink | null;
  /** performance.now() at the start of the run (timeline). */
  t0: number;
  timeline: RunTimeline | null;
}

/** Maps the call's staging buffers (per layer in order when streamed) into the reply area. */
export async function readBack(c: ReadBackCall): Promise<FastResult> {
  const L = c.nLayer;
  const per = c.kvBytes / 4;
  const kv = replyArea(L * per);
  const map = (b: GPUBuffer, bytes: number): { b: GPUBuffer; p: Promise<void> } => ({ b, p: b.mapAsync(GPUMapMode.READ, 0, bytes) });
  const together = c.outInKv && c.layerStaging.length === 0 && c.kvBytes > 0;
  const kvMaps = c.layerStaging.length > 0 ? c.layerStaging.map((b) => map(b, c.kvBytes))
    : c.kvBytes > 0 ? [map(c.kvStaging, L * c.kvBytes + (together ? c.outBytes : 0))] : [];
  const maps = c.outBytes > 0 && !together ? [...kvMaps, map(c.outStaging, c.outBytes)] : kvMaps;
  // NOTE: a map that fails while an earlier one is awaited must not surface as an unhandled rejection.
  for (const m of maps) m.p.catch(() => undefined);
  let done = 0;
  try {
    let head: ArrayBuffer | null = null;
    for (const [i, m] of maps.entries()) {
      await m.p;
      c.timeline?.mapped.push(performance.now() - c.t0);
      if (i === kvMaps.length) {
        head = m.b.getMappedRange(0, c.outBytes).slice(0);
        m.b.unmap();
      } else if (kvMaps.length === 1) {
        kv.set(new Float32Array(m.b.getMappedRange(0, L * per * 4)));
        if (together && c.outBytes > 0) head = m.b.getMappedRange(L * per * 4, c.outBytes).slice(0);
        m.b.unmap();
      } else handLayer(m.b, { layer: i, last: i === L - 1, dst: kv.subarray(i * per, (i + 1) * per), onLayer: c.onLayer });
      done = i + 1;
      c.timeline?.copied.push(performance.now() - c.t0);
    }
    if (c.onLayer !== null && kvMaps.length === 1) for (let l = 0; l < L; l++) c.onLayer(l, 'kv', kv.subarray(l * per, (l + 1) * per));
    return {
      logits: head !== null && c.output !== 'ids' ? new Float32Array(head) : null,
      ids: head !== null && c.output === 'ids' ? new Int32Array(head) : null,
      kv: c.onLayer !== null || c.kvBytes === 0 ? null : kv,
    };
  } finally {
    // NOTE: after a failure, settle and unmap the remaining maps so that the next call can map
    // again (unmapping a buffer that is not mapped does nothing).
    for (const m of maps.slice(done)) await m.p.then(() => m.b.unmap(), () => undefined);
  }
}

/**
 * Copies a streamed layer's rows from its mapped staging buffer to `dst` (its window of the reply
 * area), unmaps the buffer and hands the rows on: the last layer's K half first (see the header).
 */
function handLayer(b: GPUBuffer, h: { layer: number; last: boolean; dst: Float32Array; onLayer: LayerSink | null }): void {
  const { dst, onLayer } = h;
  const rows = new Float32Array(b.getMappedRange(0, dst.length * 4));
  if (onLayer === null || !h.last) {
    dst.set(rows);
    b.unmap();
    onLayer?.(h.layer, 'kv', dst);
    return;
  }
  const half = dst.length / 2;
  dst.set(rows.subarray(0, half));
  onLayer(h.layer, 'k', dst.subarray(0, half));
  dst.set(rows.subarray(half), half);
  b.unmap();
  onLayer(h.layer, 'v', dst.subarray(half));
}
