/**
 * BlockTable: one sequence's ordered list of pool blocks, holding one reference on each. It is the
 * pool side of the model's `KvBacking` contract (implemented structurally: same shape, no import):
 * token position p lives in block `blockIds[floor(p / blockSize)]`, row `p % blockSize`.
 * A row run inside one block is one `Float32Array.set`. After `release()` every call throws
 * KvClosedError and the table holds nothing.
 */
import { KvArgumentError, KvCapacityError, KvClosedError } from './errors.js';
import { KIND_K, KIND_V, rowOffset, type PoolGeometry, type PoolLayout } from './pool-layout.js';

/** Which half of a layer's KV (same as the model's KvKind). */
export type KvKind = 'k' | 'v';

/** Plain, cloneable description of a table: block ids in order (carries no references). */
export interface BlockTableDescriptor {
  readonly blockIds: readonly number[];
  readonly geometry: PoolGeometry;
}

/** What a table needs from its pool (internal). */
export interface TablePool {
  readonly layout: PoolLayout;
  readonly data: Float32Array;
  allocate(n: number): number[] | null;
  release(blockIds: readonly number[]): void;
}

/** One sequence's blocks; implements the model's KvBacking. */
export class BlockTable {
  private readonly pool: TablePool;
  private readonly ids: number[];
  private closed = false;

  /** @internal Tables come from BlockPool (createTable, openTable, match) and handoff adoption. */
  constructor(pool: TablePool, ownedBlockIds: ArrayLike<number>) {
    this.pool = pool;
    // NOTE: an indexed loop, not Array.from: Array.from walks a typed array's iterator, ~30x slower.
    this.ids = new Array<number>(ownedBlockIds.length);
    for (let i = 0; i < ownedBlockIds.length; i++) this.ids[i] = ownedBlockIds[i];
  }

  /** Block ids in sequence order. */
  get blockIds(): readonly number[] {
    return this.ids;
  }

  /** Tokens writable now: blocks * blockSize. */
  get capacity(): number {
    return this.ids.length * this.pool.layout.geometry.blockSize;
  }

  /** Whether release() was called (or ownership moved away). */
  get released(): boolean {
    return this.closed;
  }

  /** Grows the table to hold `tokens` tokens. False (nothing taken) when the pool cannot supply. */
  ensureCapacity(tokens: number): boolean {
    this.checkOpen('ensureCapacity');
    if (!Number.isInteger(tokens) || tokens < 0) {
      throw new KvArgumentError(`ensureCapacity: tokens must be a non-negative integer, got ${String(tokens)}`);
    }
    const needed = Math.ceil(tokens / this.pool.layout.geometry.blockSize) - this.ids.length;
    if (needed <= 0) return true;
    const fresh = this.pool.allocate(needed);
    if (fresh === null) return false;
    this.ids.push(...fresh);
    return true;
  }

  /** Copies `rows` (n * nEmbd floats) into positions [start, start + n) of `layer`'s `kind`. */
  write(layer: number, kind: KvKind, start: number, rows: Float32Array): void {
    const n = this.rowCount('write', rows);
    this.checkRange('write', layer, kind, start, start + n);
    this.forEachRun(layer, kind, start, start + n, (at, from, floats) => {
      this.pool.data.set(rows.subarray(from, from + floats), at);
    });
  }

  /** Copies positions [start, end) of `layer`'s `kind` into `out` (>= (end - start) * nEmbd floats). */
  read(layer: number, kind: KvKind, start: number, end: number, out: Float32Array): void {
    this.checkRange('read', layer, kind, start, end);
    const needed = (end - start) * this.pool.layout.nEmbd;
    if (!(out instanceof Float32Array) || out.length < needed) {
      throw new KvArgumentError(`read: out must be a Float32Array of at least ${needed} floats`);
    }
    const data = this.pool.data;
    this.forEachRun(layer, kind, start, end, (at, to, floats) => {
      out.set(data.subarray(at, at + floats), to);
    });
  }

  /** Drops this table's reference on every block. Idempotent. */
  release(): void {
    if (this.closed) return;
    this.closed = true;
    // NOTE: released last block first, so a sequence's tail blocks are evicted before its head
    // blocks (a later request more likely shares the head of a prompt than its tail).
    const ids = this.ids.splice(0).reverse();
    this.pool.release(ids);
  }

  /** Cloneable description (ids and geometry). It carries no references: see BlockPool.openTable. */
  toDescriptor(): BlockTableDescriptor {
    this.checkOpen('toDescriptor');
    return { blockIds: [...this.ids], geometry: { ...this.pool.layout.geometry } };
  }

  /** @internal Empties the table without dropping references (ownership moved elsewhere). */
  detach(): number[] {
    this.checkOpen('detach');
    this.closed = true;
    return this.ids.splice(0);
  }

  private forEachRun(
    layer: number,
    kind: KvKind,
    start: number,
    end: number,
    copy: (poolOffset: number, bufferOffset: number, floats: number) => void,
  ): void {
    const { layout } = this.pool;
    const blockSize = layout.geometry.blockSize;
    const kindIndex = kind === 'k' ? KIND_K : KIND_V;
    let position = start;
    let buffer = 0;
    while (position < end) {
      const token = position % blockSize;
      const count = Math.min(blockSize - token, end - position);
      const block = this.ids[(position - token) / blockSize];
      const floats = count * layout.nEmbd;
      copy(rowOffset(layout, block, layer, kindIndex, token), buffer, floats);
      position += count;
      buffer += floats;
    }
  }

  private rowCount(what: string, rows: Float32Array): number {
    const nEmbd = this.pool.layout.nEmbd;
    if (!(rows instanceof Float32Array) || rows.length % nEmbd !== 0) {
      throw new KvArgumentError(`${what}: rows must be a Float32Array of n * ${nEmbd} floats`);
    }
    return rows.length / nEmbd;
  }

  private checkRange(what: string, layer: number, kind: KvKind, start: number, end: number): void {
    this.checkOpen(what);
    const layers = this.pool.layout.geometry.layers;
    if (!Number.isInteger(layer) || layer < 0 || layer >= layers) {
      throw new KvArgumentError(`${what}: layer ${String(layer)} is not in [0, ${layers})`);
    }
    if (kind !== 'k' && kind !== 'v') {
      throw new KvArgumentError(`${what}: kind must be 'k' or 'v', got ${String(kind)}`);
    }
    if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end < start) {
      throw new KvArgumentError(`${what}: token range [${String(start)}, ${String(end)}) is invalid`);
    }
    if (end > this.capacity) {
      throw new KvCapacityError(`${what}: token range [${start}, ${end}) exceeds capacity ${this.capacity}`);
    }
  }

  private checkOpen(what: string): void {
    if (this.closed) throw new KvClosedError(`${what}: the block table was released`);
  }
}
