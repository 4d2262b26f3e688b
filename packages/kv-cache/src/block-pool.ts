/**
 * BlockPool: the paged KV pool in two SharedArrayBuffers (KV floats and metadata, layout in
 * pool-layout.ts). One thread creates it; any thread attaches the same pool from `pool.handle`.
 * Every operation is safe across threads. Allocation never throws on shortage (it returns null);
 * idle cached prefix blocks are evicted LRU-first only when the free list runs dry.
 */
import { BlockLedger } from './block-ledger.js';
import { BlockTable, type BlockTableDescriptor } from './block-table.js';
import { KvArgumentError } from './errors.js';
import { HandoffConsumer, HandoffProducer, type HandoffDescriptor, type OpenHandoffOptions } from './handoff.js';
import { HandoffSlots } from './handoff-slots.js';
import {
  H_ACTIVE_COUNT,
  H_EVICTIONS,
  H_FREE_COUNT,
  H_HITS,
  H_IDLE_COUNT,
  H_INDEXED_COUNT,
  H_LOCK,
  H_MISSES,
  layoutOf,
  spanOffset,
  type PoolGeometry,
  type PoolLayout,
} from './pool-layout.js';
import { PrefixCache } from './prefix-cache.js';
import { PrefixIndex } from './prefix-index.js';
import { SharedMutex } from './shared-mutex.js';
import { isWasmMemory, wasm, type WasmMemory } from './wasm-api.js';

const WASM_PAGE_BYTES = 65536;
const MAX_WASM_PAGES = 65536;
const wasmPages = (bytes: number): number => Math.max(1, Math.ceil(bytes / WASM_PAGE_BYTES));

/** Options of BlockPool.create: the geometry, with a default of 64 handoff slots. */
export type BlockPoolOptions = Omit<PoolGeometry, 'handoffSlots'> & { readonly handoffSlots?: number };

/** Cloneable handle to post to another thread, which calls BlockPool.attach(handle). */
export interface BlockPoolHandle {
  readonly geometry: PoolGeometry;
  /**
   * The shared WebAssembly memory holding the KV floats (`data` is its buffer).
   * NOTE: a wasm memory rather than a plain SharedArrayBuffer so the transfer stream's SIMD
   * checksum (span-hash.ts) reads KV in place; it posts to other threads like a SAB.
   */
  readonly memory: WasmMemory;
  readonly data: SharedArrayBuffer;
  readonly meta: SharedArrayBuffer;
}

/** A snapshot of the pool's accounting. total = free + used + cached. */
export interface PoolStats {
  readonly total: number;
  /** Blocks on the free list. */
  readonly free: number;
  /** Blocks with at least one reference. */
  readonly used: number;
  /** Unreferenced blocks kept for prefix reuse (evictable). */
  readonly cached: number;
  /** Blocks in the prefix index (cached plus used ones that are indexed). */
  readonly indexed: number;
  /** Full blocks found by match(). */
  readonly hits: number;
  /** Full blocks looked up by match() and not found. */
  readonly misses: number;
  /** Cached blocks evicted to satisfy an allocation. */
  readonly evictions: number;
}

/** Result of BlockPool.match. */
export interface PrefixMatch {
  /** A new table holding a reference on each matched block (possibly empty). */
  readonly table: BlockTable;
  /** Tokens covered by the matched blocks (a multiple of blockSize). */
  readonly cachedTokens: number;
}

/** The paged KV pool shared by every thread of a process. */
export class BlockPool {
  /** Cloneable handle for BlockPool.attach in another thread. */
  readonly handle: BlockPoolHandle;
  /** @internal */ readonly layout: PoolLayout;
  /** @internal All KV floats. */ readonly data: Float32Array;
  /** @internal */ readonly slots: HandoffSlots;
  private readonly meta: Int32Array;
  private readonly mutex: SharedMutex;
  private readonly ledger: BlockLedger;
  private readonly prefix: PrefixCache;

  private constructor(handle: BlockPoolHandle, fresh: boolean) {
    this.handle = handle;
    this.layout = layoutOf(handle.geometry);
    this.data = new Float32Array(handle.data, 0, this.layout.blockFloats * handle.geometry.totalBlocks);
    this.meta = new Int32Array(handle.meta);
    this.mutex = new SharedMutex(this.meta, H_LOCK);
    const index = new PrefixIndex(this.meta, this.layout);
    this.ledger = new BlockLedger({ meta: this.meta, layout: this.layout, mutex: this.mutex, index });
    this.prefix = new PrefixCache({ meta: this.meta, layout: this.layout, mutex: this.mutex, ledger: this.ledger, index });
    this.slots = new HandoffSlots({ meta: this.meta, layout: this.layout, mutex: this.mutex });
    if (fresh) {
      index.clear();
      this.ledger.initialize();
      this.slots.initialize();
    }
  }

  /** Creates a pool (all blocks free). Throws KvArgumentError naming a bad geometry field. */
  static create(options: BlockPoolOptions): BlockPool {
    const geometry: PoolGeometry = { ...options, handoffSlots: options.handoffSlots ?? 64 };
    const layout = layoutOf(geometry);
    const pages = wasmPages(layout.blockFloats * geometry.totalBlocks * 4);
    if (pages > MAX_WASM_PAGES) {
      throw new KvArgumentError(`create: totalBlocks ${geometry.totalBlocks} needs ${pages} 64 KiB pages of KV, more than ${MAX_WASM_PAGES} (4 GiB)`);
    }
    const memory = new wasm.Memory({ initial: pages, maximum: pages, shared: true });
    const meta = new SharedArrayBuffer(layout.metaInts * 4);
    return new BlockPool({ geometry, memory, data: memory.buffer, meta }, true);
  }

  /** Attaches to a pool created in another thread of this process. */
  static attach(handle: BlockPoolHandle): BlockPool {
    if (!(handle?.data instanceof SharedArrayBuffer) || !(handle.meta instanceof SharedArrayBuffer)) {
      throw new KvArgumentError('attach: handle.data and handle.meta must be SharedArrayBuffers');
    }
    if (!(isWasmMemory(handle.memory)) || handle.memory.buffer.byteLength !== handle.data.byteLength) {
      throw new KvArgumentError('attach: handle.memory must be the shared WebAssembly.Memory whose buffer is handle.data');
    }
    const layout = layoutOf(handle.geometry);
    if (handle.data.byteLength !== wasmPages(layout.blockFloats * handle.geometry.totalBlocks * 4) * WASM_PAGE_BYTES) {
      throw new KvArgumentError(`attach: handle.data has ${handle.data.byteLength} bytes, geometry needs more or fewer`);
    }
    if (handle.meta.byteLength !== layout.metaInts * 4) {
      throw new KvArgumentError(`attach: handle.meta has ${handle.meta.byteLength} bytes, geometry needs ${layout.metaInts * 4}`);
    }
    return new BlockPool(handle, false);
  }

  /** The pool's geometry. */
  get geometry(): PoolGeometry {
    return this.handle.geometry;
  }

  /** Takes `n` blocks (one reference each), or returns null when the pool cannot supply them. */
  allocate(n: number): number[] | null {
    if (!Number.isInteger(n) || n < 0) {
      throw new KvArgumentError(`allocate: n must be a non-negative integer, got ${String(n)}`);
    }
    if (n === 0) return [];
    return this.mutex.withLock(() => this.ledger.allocateLocked(n));
  }

  /** Adds a reference to each block; all-or-nothing, each must already hold one (KvRefCountError). */
  retain(blockIds: ArrayLike<number>): void {
    this.checkIds(blockIds, 'retain');
    if (blockIds.length === 1) this.ledger.retain(blockIds[0]);
    else this.mutex.withLock(() => this.ledger.retainAllLocked(blockIds));
  }

  /** Drops one reference from each block. Throws KvRefCountError for a block holding none. */
  release(blockIds: ArrayLike<number>): void {
    this.checkIds(blockIds, 'release');
    for (let i = 0; i < blockIds.length; i++) this.ledger.release(blockIds[i]);
  }

  /** Current reference count of a block. */
  refCount(blockId: number): number {
    this.ledger.checkId(blockId);
    return this.ledger.refCount(blockId);
  }

  /** An empty table; grow it with ensureCapacity. */
  createTable(): BlockTable {
    return new BlockTable(this, []);
  }

  /** A new table sharing the blocks of `descriptor` (takes a new reference on each). */
  openTable(descriptor: BlockTableDescriptor): BlockTable {
    this.retain(descriptor.blockIds);
    return new BlockTable(this, descriptor.blockIds);
  }

  /**
   * Longest run of cached full blocks at the start of `tokens`, with references taken.
   * Only full blocks count: pass `prompt.slice(0, -1)` when the last prompt token must be computed.
   */
  match(tokens: ArrayLike<number>): PrefixMatch {
    const ids = this.prefix.match(tokens);
    return { table: new BlockTable(this, ids), cachedTokens: ids.length * this.layout.geometry.blockSize };
  }

  /** Tokens of `tokens` already cached (full blocks), without taking references or counting hits. */
  cachedPrefixLength(tokens: ArrayLike<number>): number {
    return this.prefix.peek(tokens) * this.layout.geometry.blockSize;
  }

  /**
   * Registers the table's full blocks as holding `tokens` (their KV must be written for every
   * layer). Returns how many blocks were newly indexed.
   */
  publish(table: BlockTable, tokens: ArrayLike<number>): number {
    if (table.released) throw new KvArgumentError('publish: the block table was released');
    return this.prefix.publish(table.blockIds, tokens);
  }

  /** Frees every cached block that holds no reference; returns how many. */
  evictAllCached(): number {
    return this.mutex.withLock(() => this.ledger.evictAllIdleLocked());
  }

  /** A consistent snapshot of the accounting. */
  stats(): PoolStats {
    return this.mutex.withLock(() => ({
      total: this.layout.geometry.totalBlocks,
      free: Atomics.load(this.meta, H_FREE_COUNT),
      used: Atomics.load(this.meta, H_ACTIVE_COUNT),
      cached: Atomics.load(this.meta, H_IDLE_COUNT),
      indexed: Atomics.load(this.meta, H_INDEXED_COUNT),
      hits: Atomics.load(this.meta, H_HITS),
      misses: Atomics.load(this.meta, H_MISSES),
      evictions: Atomics.load(this.meta, H_EVICTIONS),
    }));
  }

  /**
   * Starts a handoff of `table`'s blocks (the handoff takes its own reference on each; the
   * producer may release its table at any time). Returns null when no handoff slot is free.
   */
  openHandoff(table: BlockTable, options: OpenHandoffOptions): HandoffProducer | null {
    return HandoffProducer.open(this, table, options);
  }

  /** The consumer side of a handoff descriptor posted from another thread of this process. */
  acceptHandoff(descriptor: HandoffDescriptor): HandoffConsumer {
    return HandoffConsumer.accept(this, descriptor);
  }

  /** @internal A table owning `blockIds` (references transferred, not taken). */
  adoptBlocks(blockIds: ArrayLike<number>): BlockTable {
    return new BlockTable(this, blockIds);
  }

  /** @internal Float view of one block's layer span (K rows then V rows). */
  layerSpan(blockId: number, layer: number): Float32Array {
    const at = spanOffset(this.layout, blockId, layer);
    return this.data.subarray(at, at + this.layout.spanFloats);
  }

  private checkIds(blockIds: ArrayLike<number>, what: string): void {
    if (!Array.isArray(blockIds) && !(blockIds instanceof Int32Array)) {
      throw new KvArgumentError(`${what}: blockIds must be an array or Int32Array of block ids`);
    }
    for (let i = 0; i < blockIds.length; i++) this.ledger.checkId(blockIds[i], what);
  }
}
