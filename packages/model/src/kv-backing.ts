/**
 * KvBacking: the model's view of one sequence's KV storage, the system of record for KV.
 *
 * The model never owns KV storage across actors: it writes every K and V row it computes into a
 * KvBacking and reads rows back when it (re)builds whatever copy its backend keeps (wasm heap,
 * GPU). `@baton/kv-cache`'s block table implements this interface structurally (no import either
 * way), so the model knows nothing of blocks, pools or threads.
 *
 * Row layout (both directions): one row per token, `nEmbd` float32 values, heads concatenated
 * (head h occupies [h * headDim, (h + 1) * headDim)). A call with n rows passes n * nEmbd floats.
 *
 * Invariants: rows are addressed by absolute token position in the sequence; `write` never
 * exceeds `capacity` (the caller grows capacity first; the model throws KvCapacityError
 * otherwise); reading rows that were never written is the caller's bug.
 */

/** Which half of a layer's KV. */
export type KvKind = 'k' | 'v';

/** Storage for one sequence's KV, addressed by (layer, kind, token position). */
export interface KvBacking {
  /** Number of token positions that can be written right now. */
  readonly capacity: number;
  /** Copies `rows` (n * nEmbd floats) into positions [start, start + n) of `layer`'s `kind`. */
  write(layer: number, kind: KvKind, start: number, rows: Float32Array): void;
  /** Copies positions [start, end) of `layer`'s `kind` into `out` ((end - start) * nEmbd floats). */
  read(layer: number, kind: KvKind, start: number, end: number, out: Float32Array): void;
}
