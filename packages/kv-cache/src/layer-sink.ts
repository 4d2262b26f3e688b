/**
 * The payload sink of one Layer frame on the receiving side: it places the frame's bytes into the
 * blocks' layer spans of the local pool, either by copying socket chunks (`write`, through a
 * SharedCopier) or by handing out the spans themselves as read targets (`direct`, zero-copy when
 * the socket reads into caller-chosen memory). Both paths advance one cursor over the byte runs,
 * so a frame may mix them. Invariant: bytes land in stream order; nothing is written past the
 * frame's runs (FrameReader never hands a sink more than the frame's payload).
 */
import type { ByteRuns } from './pool-layout.js';
import type { SharedCopier } from './shared-copy.js';
import type { DirectTarget, PayloadSink } from './transfer-protocol.js';

/** Options of createLayerSink. */
export interface LayerSinkOptions {
  /** The pool's KV bytes. */
  readonly bytes: Uint8Array;
  readonly copier: SharedCopier;
  /** Destination byte runs of the frame, in payload order. */
  readonly runs: ByteRuns;
  /** Called once every payload byte is in place. */
  readonly onComplete: () => void;
}

/** A sink writing one Layer frame's payload into its byte runs. */
export function createLayerSink(options: LayerSinkOptions): PayloadSink {
  const { bytes, copier, runs, onComplete } = options;
  let run = 0;
  let within = 0;
  const advance = (count: number): void => {
    within += count;
    if (within === runs.lengths[run]) {
      run++;
      within = 0;
    }
  };
  const direct: DirectTarget = {
    view: () => bytes.subarray(runs.offsets[run] + within, runs.offsets[run] + runs.lengths[run]),
    advance,
  };
  return {
    write: (chunk) => {
      let at = 0;
      while (at < chunk.length) {
        const take = Math.min(runs.lengths[run] - within, chunk.length - at);
        copier.copy(chunk.subarray(at, at + take), runs.offsets[run] + within);
        at += take;
        advance(take);
      }
    },
    end: onComplete,
    direct,
  };
}
