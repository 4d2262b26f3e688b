/**
 * The contract of the model's CPU forward passes (reference-forward.ts, the tfjs reference, and
 * wasm-forward.ts, the wasm-kernel fast path): a call runs segments (one sequence's consecutive
 * new tokens each: a prefill chunk is one segment, a decode step one segment per sequence) through
 * the model, stores every new K/V row through the host, and advances each sequence's length.
 * Invariant: a segment's results never depend on the other segments of the call.
 */
import type { ModelSequence } from './model-sequence.js';

/** One sequence's consecutive new tokens in a call (positions seq.length ..). */
export interface Segment {
  seq: ModelSequence;
  tokens: readonly number[];
}

/** Which logits a call returns: every row, each segment's last row, or none. */
export type LogitRows = 'all' | 'last' | 'none';

/** What a forward pass needs from its model: the KV bookkeeping both passes share. */
export interface ForwardHost {
  /** Makes the backing's existing rows of `layer` available to attention (handoffs). */
  loadLayer(seq: ModelSequence, layer: number): void;
  /** Writes n new K and V rows ([n, C] each, heads concatenated) at `start` to the backing (and cache). */
  storeKv(seq: ModelSequence, layer: number, start: number, k: Float32Array, v: Float32Array): void;
}

/** A forward pass over segments. */
export interface ForwardPass {
  /** Most tokens one call may hold; the model splits longer decode batches. */
  readonly maxRows: number;
  /** Whether attention reads the model's KvArena (else the sequences' backings). */
  readonly usesArena: boolean;
  /**
   * Runs `segments`, stores their K/V rows, advances their lengths; returns logits [rows * V]
   * (rows per `logits`) or null for 'none'. `onLayerDone(l)` runs once layer l's rows are stored.
   */
  forward(segments: readonly Segment[], logits: LogitRows, onLayerDone?: (layer: number) => void): Float32Array | null;
  /** Frees what the pass holds. */
  dispose(): void;
}
