/**
 * ArrayKvBacking: a growable in-memory KvBacking for single-model use and tests.
 * Invariant: per (layer, kind), one Float32Array of capacity * nEmbd floats; growing copies once.
 */
import { KvCapacityError, ModelArgumentError } from './errors.js';
import type { KvBacking, KvKind } from './kv-backing.js';

/** Options of ArrayKvBacking. */
export interface ArrayKvBackingOptions {
  nLayer: number;
  nEmbd: number;
  /** Initial capacity in positions (default 64). */
  capacity?: number;
  /** Grow automatically on write past capacity (default true); false makes writes past capacity throw. */
  growable?: boolean;
}

/** In-memory KV storage for one sequence. */
export class ArrayKvBacking implements KvBacking {
  private cap: number;
  private rows: Float32Array[];
  private readonly growable: boolean;

  constructor(private readonly opts: ArrayKvBackingOptions) {
    this.cap = opts.capacity ?? 64;
    this.growable = opts.growable ?? true;
    this.rows = Array.from({ length: opts.nLayer * 2 }, () => new Float32Array(this.cap * opts.nEmbd));
  }

  /** Positions writable now; a growable backing reports Infinity-like room via `ensureCapacity`. */
  get capacity(): number {
    return this.growable ? Number.MAX_SAFE_INTEGER : this.cap;
  }

  /** Grows storage to hold `positions` tokens. */
  ensureCapacity(positions: number): void {
    if (positions <= this.cap) return;
    const next = Math.max(positions, this.cap * 2);
    this.rows = this.rows.map((old) => {
      const grown = new Float32Array(next * this.opts.nEmbd);
      grown.set(old);
      return grown;
    });
    this.cap = next;
  }

  write(layer: number, kind: KvKind, start: number, rows: Float32Array): void {
    const n = rows.length / this.opts.nEmbd;
    if (start + n > this.cap) {
      if (!this.growable) throw new KvCapacityError(start + n, this.cap);
      this.ensureCapacity(start + n);
    }
    this.buffer(layer, kind).set(rows, start * this.opts.nEmbd);
  }

  read(layer: number, kind: KvKind, start: number, end: number, out: Float32Array): void {
    if (end > this.cap || start < 0 || end < start) throw new ModelArgumentError('end', `rows [${start}, ${end}) are outside capacity ${this.cap}`);
    const C = this.opts.nEmbd;
    out.set(this.buffer(layer, kind).subarray(start * C, end * C));
  }

  private buffer(layer: number, kind: KvKind): Float32Array {
    if (!Number.isInteger(layer) || layer < 0 || layer >= this.opts.nLayer) {
      throw new ModelArgumentError('layer', `${layer} is not a layer index in [0, ${this.opts.nLayer})`);
    }
    return this.rows[layer * 2 + (kind === 'k' ? 0 : 1)];
  }
}
