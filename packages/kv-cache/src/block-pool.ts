/**
 * BlockPool: the paged KV pool in two SharedArrayBuffers (KV floats and metadata, layout in
 * pool-layout.ts). One thread creates it; any thread attaches the same pool from `pool.handle`.
 * Every operation is safe across threads. Allocation never throws on shortage (it returns null);
 * idle cached prefix blocks are evicted LRU-first only when the free list runs dry.
 *
 * Owners: a pool object is either unowned (references uncounted, as created/attached by default)
 * or a view for one owner id (`attach(handle, { owner })`, `withOwner(id)`) whose references are
 * counted so `reclaimOwner(id)` can drop them after that thread dies. Handoff references belong to
 * the handoff's slot until adoption moves them to the adopter's owner (handoff-registry.ts).
 */
import { BlockLedger } from './block-ledger.js';
import { BlockTable, type BlockTableDescriptor } from './block-table.js';
import { KvArgumentError } from './errors.js';
import { HandoffConsumer, HandoffProducer, type HandoffDescriptor, type OpenHandoffOptions } from './handoff.js';
import { HandoffRegistry } from './handoff-registry.js';
import { HandoffSlots } from './handoff-slots.js';
import { HolderCounts } from './holder-counts.js';
import { OwnerReferences } from './owner-references.js';
import {
  H_ACTIVE_COUNT,
  H_EVICTIONS,
  H_FREE_COUNT,
  H_HITS,
  H_IDLE_COUNT,
  H_INDEXED_COUNT,
  H_LOCK,
  H_MISSES,
  DEFAULT_MAX_OWNERS,
  layoutOf,
  spanOffset,
  type PoolGeometry,
  type PoolLayout,
} from './pool-layout.js';
import { PrefixCache } from './prefix-cache.js';
import { PrefixIndex, type CachedBlockIdentity } from './prefix-index.js';
import { SharedMutex } from './shared-mutex.js';
import { isWasmMemory, wasm, type WasmMemory } from './wasm-api.js';

const WASM_PAGE_BYTES = 65536;
const MAX_WASM_PAGES = 65536;
const wasmPages = (bytes: number): number => Math.max(1, Math.ceil(bytes / WASM_PAGE_BYTES));

/** Options of BlockPool.create: the geometry, with defaults of 64 handoff slots and 32 owners. */
export type BlockPoolOptions = Omit<PoolGeometry, 'handoffSlots' | 'maxOwners'> & {
  readonly handoffSlots?: number;
  readonly maxOwners?: number;
};

/** Options of BlockPool.attach. */
export interface AttachOptions {
  /** Count every reference this view takes against this owner id (see BlockPool.reclaimOwner). */
  readonly owner?: number;
}

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
  /** @internal */ readonly handoffs: HandoffRegistry;
  /** The owner id this view counts references against, or null (unowned). */
  readonly owner: number | null;
  private readonly owned: OwnerReferences;
  private readonly meta: Int32Array;
  private readonly mutex: SharedMutex;
  private readonly ledger: BlockLedger;
  private readonly prefix: PrefixCache;

  private constructor(handle: BlockPoolHandle, fresh: boolean, owner: number | null) {
    this.handle = handle;
    this.owner = owner;
    this.layout = layoutOf(handle.geometry);
    this.data = new Float32Array(handle.data, 0, this.layout.blockFloats * handle.geometry.totalBlocks);
    this.meta = new Int32Array(handle.meta);
    this.mutex = new SharedMutex(this.meta, H_LOCK);
    const index = new PrefixIndex(this.meta, this.layout);
    this.ledger = new BlockLedger({ meta: this.meta, layout: this.layout, mutex: this.mutex, index });
    this.prefix = new PrefixCache({ meta: this.meta, layout: this.layout, mutex: this.mutex, ledger: this.ledger, index });
    this.slots = new HandoffSlots({ meta: this.meta, layout: this.layout, mutex: this.mutex });
    const holders = new HolderCounts({ meta: this.meta, layout: this.layout });
    this.owned = new OwnerReferences({ mutex: this.mutex, ledger: this.ledger, holders });
    this.handoffs = new HandoffRegistry({ mutex: this.mutex, ledger: this.ledger, holders, slots: this.slots });
    if (fresh) {
      index.clear();
      this.ledger.initialize();
      this.slots.initialize();
    }
  }

  /** Creates a pool (all blocks free). Throws KvArgumentError naming a bad geometry field. */
  static create(options: BlockPoolOptions): BlockPool {
    const geometry: PoolGeometry = {
      ...options,
      handoffSlots: options.handoffSlots ?? 64,
      maxOwners: options.maxOwners ?? DEFAULT_MAX_OWNERS,
    };
    const layout = layoutOf(geometry);
    const pages = wasmPages(layout.blockFloats * geometry.totalBlocks * 4);
    if (pages > MAX_WASM_PAGES) {
      throw new KvArgumentError(`create: totalBlocks ${geometry.totalBlocks} needs ${pages} 64 KiB pages of KV, more than ${MAX_WASM_PAGES} (4 GiB)`);
    }
    const memory = new wasm.Memory({ initial: pages, maximum: pages, shared: true });
    const meta = new SharedArrayBuffer(layout.metaInts * 4);
    return new BlockPool({ geometry, memory, data: memory.buffer, meta }, true, null);
  }

  /**
   * Attaches to a pool created in another thread of this process; with `options.owner`, the
   * result is a view counting its references against that owner (see withOwner).
   */
  static attach(handle: BlockPoolHandle, options: AttachOptions = {}): BlockPool {
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
    const owner = options.owner ?? null;
    if (owner !== null) checkOwnerId(layout.maxOwners, owner, 'attach: options.owner');
    return new BlockPool(handle, false, owner);
  }

  /**
   * A view of this pool whose references (allocate, retain, match, openTable, table growth,
   * handoff adoption) are counted against `owner`, an integer in [0, maxOwners). References it
   * takes must be dropped through a view of the same owner (else KvOwnerError).
   */
  withOwner(owner: number): BlockPool {
    checkOwnerId(this.layout.maxOwners, owner, 'withOwner: owner');
    return new BlockPool(this.handle, false, owner);
  }

  /** The pool's geometry. */
  get geometry(): PoolGeometry {
    return this.handle.geometry;
  }

  /**
   * Drops every reference `owner` still holds (call from another thread once it is known dead;
   * the owner must take no further references). Returns how many blocks lost their last
   * reference (freed, or parked as cached when prefix-indexed). Handoffs it produced or accepted
   * are not touched: see cancelHandoffsOf.
   */
  reclaimOwner(owner: number): number {
    checkOwnerId(this.layout.maxOwners, owner, 'reclaimOwner: owner');
    return this.owned.reclaim(owner);
  }

  /** References currently counted against `owner`. */
  ownerReferences(owner: number): number {
    checkOwnerId(this.layout.maxOwners, owner, 'ownerReferences: owner');
    return this.owned.total(owner);
  }

  /**
   * Cancels (dropping their references exactly once) every pending or complete, unadopted
   * handoff whose deadline is at or before `now` (ms, Date.now() clock). Returns how many.
   */
  sweepExpiredHandoffs(now: number = Date.now()): number {
    if (typeof now !== 'number' || Number.isNaN(now)) {
      throw new KvArgumentError(`sweepExpiredHandoffs: now must be a number of ms, got ${String(now)}`);
    }
    return this.handoffs.sweep(now);
  }

  /** Cancels every live handoff that `owner` produced or accepted (not yet adopted). Returns how many. */
  cancelHandoffsOf(owner: number): number {
    checkOwnerId(this.layout.maxOwners, owner, 'cancelHandoffsOf: owner');
    return this.handoffs.cancelOf(owner);
  }

  /** Takes `n` blocks (one reference each), or returns null when the pool cannot supply them. */
  allocate(n: number): number[] | null {
    if (!Number.isInteger(n) || n < 0) {
      throw new KvArgumentError(`allocate: n must be a non-negative integer, got ${String(n)}`);
    }
    if (n === 0) return [];
    if (this.owner !== null) return this.owned.allocate(this.owner, n);
    return this.mutex.withLock(() => this.ledger.allocateLocked(n));
  }

  /** Adds a reference to each block; all-or-nothing, each must already hold one (KvRefCountError). */
  retain(blockIds: ArrayLike<number>): void {
    this.checkIds(blockIds, 'retain');
    if (this.owner !== null) this.owned.retain(this.owner, blockIds);
    else if (blockIds.length === 1) this.ledger.retain(blockIds[0]);
    else this.mutex.withLock(() => this.ledger.retainAllLocked(blockIds));
  }

  /**
   * Drops one reference from each block. Throws KvRefCountError for a block holding none; on an
   * owner's view, KvOwnerError (nothing dropped) for a block the owner holds no reference on.
   */
  release(blockIds: ArrayLike<number>): void {
    this.checkIds(blockIds, 'release');
    if (this.owner !== null) {
      this.owned.release(this.owner, blockIds);
      return;
    }
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
    const owner = this.owner;
    const ids = this.prefix.match(tokens, owner === null ? null : (taken) => this.owned.countLocked(owner, taken));
    return { table: new BlockTable(this, ids), cachedTokens: ids.length * this.layout.geometry.blockSize };
  }

  /**
   * Block ids of the cached run of full blocks of `tokens` that starts at full block `fromBlock`,
   * each with a new reference (counted like match). For a caller that holds the blocks before it.
   */
  matchFrom(tokens: ArrayLike<number>, fromBlock: number): number[] {
    if (!Number.isInteger(fromBlock) || fromBlock < 0) throw new KvArgumentError(`matchFrom: fromBlock must be a non-negative integer, got ${String(fromBlock)}`);
    const owner = this.owner;
    return this.prefix.match(tokens, owner === null ? null : (taken) => this.owned.countLocked(owner, taken), fromBlock);
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

  /**
   * Takes every indexed full block of `tokens` out of the prefix cache (idle ones are freed now,
   * referenced ones when released). Returns how many blocks were unindexed.
   */
  forgetPrefix(tokens: ArrayLike<number>): number {
    return this.prefix.forget(tokens);
  }

  /** Frees every cached block that holds no reference; returns how many. */
  evictAllCached(): number {
    return this.mutex.withLock(() => this.ledger.evictAllIdleLocked());
  }

  /**
   * Frees up to `n` idle cached blocks (no references, still indexed), least recently used first,
   * each reported to this view's eviction hook first. Returns how many.
   */
  evictIdle(n: number): number {
    if (!Number.isInteger(n) || n < 0) throw new KvArgumentError(`evictIdle: n must be a non-negative integer, got ${String(n)}`);
    return this.mutex.withLock(() => this.ledger.evictIdleLocked(n));
  }

  /**
   * Sets (or clears, with null) the hook that sees every idle cached block evicted through this
   * view (by its allocations, evictIdle, evictAllCached): it runs under the pool lock with the
   * block's id and chain identity while the block's KV is intact, and must not call the pool.
   * Evictions by other views (other threads) do not reach it.
   */
  setEvictionHook(hook: ((block: number, identity: CachedBlockIdentity) => void) | null): void {
    this.ledger.evictionHook = hook;
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
   * Starts a handoff of `table`'s blocks (the handoff takes its own reference on each, held by the
   * handoff's slot, not by this view's owner; the producer may release its table at any time).
   * With `deadlineMs`, sweepExpiredHandoffs cancels it once that many ms have passed unadopted.
   * Returns null when no handoff slot is free.
   */
  openHandoff(table: BlockTable, options: OpenHandoffOptions): HandoffProducer | null {
    return HandoffProducer.open(this, table, options);
  }

  /**
   * The consumer side of a handoff descriptor posted from another thread of this process. On an
   * owner's view the owner is recorded as the consumer (see cancelHandoffsOf) and adoption moves
   * the handoff's references to it.
   */
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

function checkOwnerId(maxOwners: number, owner: number, what: string): void {
  if (!Number.isInteger(owner) || owner < 0 || owner >= maxOwners) {
    throw new KvArgumentError(`${what} must be an integer in [0, ${maxOwners}) (maxOwners), got ${String(owner)}`);
  }
}
