/**
 * The block ledger: free list, reference counts, block states and the LRU list of idle cached
 * blocks, all in the pool's shared metadata. Owns the invariant free + active + idle = total.
 *
 * Reference counts change with Atomics. Increments and decrements that stay >= 1 are lock-free
 * (compare-exchange loops); the 1 -> 0 and 0 -> 1 transitions move a block between lists and so
 * take the pool lock. A count is never driven below zero: dropping a reference that does not
 * exist throws KvRefCountError and changes nothing.
 */
import { KvArgumentError, KvRefCountError } from './errors.js';
import {
  B_FREE_NEXT,
  B_LRU_NEXT,
  B_LRU_PREV,
  B_REFS,
  B_STATE,
  BlockState,
  H_ACTIVE_COUNT,
  H_EVICTIONS,
  H_FREE_COUNT,
  H_FREE_HEAD,
  H_IDLE_COUNT,
  H_LRU_HEAD,
  H_LRU_TAIL,
  NONE,
  blockWord,
  type PoolLayout,
} from './pool-layout.js';
import type { CachedBlockIdentity, PrefixIndex } from './prefix-index.js';
import type { SharedMutex } from './shared-mutex.js';

/** Shared-memory accounting of blocks. Methods named `*Locked` require the pool lock. */
export class BlockLedger {
  private readonly meta: Int32Array;
  private readonly layout: PoolLayout;
  private readonly mutex: SharedMutex;
  private readonly index: PrefixIndex;

  constructor(options: { meta: Int32Array; layout: PoolLayout; mutex: SharedMutex; index: PrefixIndex }) {
    this.meta = options.meta;
    this.layout = options.layout;
    this.mutex = options.mutex;
    this.index = options.index;
  }

  /** Puts every block on the free list (pool creation only, before the pool is shared). */
  initialize(): void {
    const total = this.layout.geometry.totalBlocks;
    for (let b = 0; b < total; b++) {
      this.meta[this.word(b, B_REFS)] = 0;
      this.meta[this.word(b, B_STATE)] = BlockState.Free;
      this.meta[this.word(b, B_FREE_NEXT)] = b + 1 < total ? b + 1 : NONE;
      this.meta[this.word(b, B_LRU_PREV)] = NONE;
      this.meta[this.word(b, B_LRU_NEXT)] = NONE;
    }
    this.meta[H_FREE_HEAD] = 0;
    this.meta[H_FREE_COUNT] = total;
    this.meta[H_LRU_HEAD] = NONE;
    this.meta[H_LRU_TAIL] = NONE;
  }

  /** Throws KvArgumentError unless `block` is a block id of this pool. */
  checkId(block: number, context?: string): void {
    if (!Number.isInteger(block) || block < 0 || block >= this.layout.geometry.totalBlocks) {
      const where = context === undefined ? '' : `${context}: `;
      throw new KvArgumentError(`${where}block id ${String(block)} is not in [0, ${this.layout.geometry.totalBlocks})`);
    }
  }

  refCount(block: number): number {
    return Atomics.load(this.meta, this.word(block, B_REFS));
  }

  state(block: number): BlockState {
    return Atomics.load(this.meta, this.word(block, B_STATE));
  }

  /** Takes `n` blocks (ref 1 each), evicting idle cached blocks LRU-first; null if not enough. */
  allocateLocked(n: number): number[] | null {
    const meta = this.meta;
    if (Atomics.load(meta, H_FREE_COUNT) + Atomics.load(meta, H_IDLE_COUNT) < n) return null;
    const ids = new Array<number>(n);
    for (let i = 0; i < n; i++) {
      const block = Atomics.load(meta, H_FREE_COUNT) > 0 ? this.popFreeLocked() : this.evictLruLocked();
      Atomics.store(meta, this.word(block, B_STATE), BlockState.Active);
      Atomics.store(meta, this.word(block, B_REFS), 1);
      Atomics.add(meta, H_ACTIVE_COUNT, 1);
      ids[i] = block;
    }
    return ids;
  }

  /** Adds a reference to a block that already has one (lock-free). */
  retain(block: number): void {
    const at = this.word(block, B_REFS);
    for (;;) {
      const refs = Atomics.load(this.meta, at);
      if (refs < 1) {
        throw new KvRefCountError(block, `cannot retain block ${block}: it holds no reference (it is free or idle)`);
      }
      if (Atomics.compareExchange(this.meta, at, refs, refs + 1) === refs) return;
    }
  }

  /**
   * Adds a reference to each block, all-or-nothing: throws (changing nothing) if any holds none.
   * NOTE: under the lock no count can reach 0 (that transition takes the lock), so checking first
   * and then adding is safe against concurrent lock-free retains and releases.
   */
  retainAllLocked(blocks: ArrayLike<number>): void {
    for (let i = 0; i < blocks.length; i++) {
      if (Atomics.load(this.meta, this.word(blocks[i], B_REFS)) < 1) {
        throw new KvRefCountError(blocks[i], `cannot retain block ${blocks[i]}: it holds no reference (it is free or idle)`);
      }
    }
    for (let i = 0; i < blocks.length; i++) Atomics.add(this.meta, this.word(blocks[i], B_REFS), 1);
  }

  /** Adds a reference to an active or idle block (a prefix hit). */
  retainCachedLocked(block: number): void {
    const at = this.word(block, B_REFS);
    if (Atomics.add(this.meta, at, 1) === 0) {
      this.lruRemoveLocked(block);
      Atomics.store(this.meta, this.word(block, B_STATE), BlockState.Active);
      Atomics.sub(this.meta, H_IDLE_COUNT, 1);
      Atomics.add(this.meta, H_ACTIVE_COUNT, 1);
    }
  }

  /** Drops one reference; the last one frees the block or parks it (if indexed) on the LRU list. */
  release(block: number): void {
    const at = this.word(block, B_REFS);
    for (;;) {
      const refs = Atomics.load(this.meta, at);
      if (refs < 1) {
        throw new KvRefCountError(block, `cannot release block ${block}: it holds no reference`);
      }
      if (refs === 1) {
        if (this.mutex.withLock(() => this.releaseLastLocked(block))) return;
      } else if (Atomics.compareExchange(this.meta, at, refs, refs - 1) === refs) {
        return;
      }
    }
  }

  /**
   * Drops one reference with the lock held; the last one frees or parks the block.
   * Returns true when this dropped the block's last reference.
   */
  releaseLocked(block: number): boolean {
    const at = this.word(block, B_REFS);
    for (;;) {
      const refs = Atomics.load(this.meta, at);
      if (refs < 1) throw new KvRefCountError(block, `cannot release block ${block}: it holds no reference`);
      // NOTE: lock-free retains and releases may run concurrently (never 1 -> 0 or 0 -> 1, those
      // take the lock), hence the retry loop.
      if (refs === 1) {
        if (this.releaseLastLocked(block)) return true;
      } else if (Atomics.compareExchange(this.meta, at, refs, refs - 1) === refs) {
        return false;
      }
    }
  }

  /**
   * Called with each idle cached block this ledger evicts (allocation, evictIdleLocked,
   * evictAllIdleLocked), under the pool lock, before the block leaves the index and is freed: its
   * KV is still intact. It must not call back into the pool (the lock is held).
   */
  evictionHook: ((block: number, identity: CachedBlockIdentity) => void) | null = null;

  /**
   * Takes `block` out of the prefix index: an idle cached block is freed at once; a referenced one
   * stays with its holders and is freed when the last reference goes. Returns false when it was
   * not indexed.
   */
  forgetLocked(block: number): boolean {
    if (!this.index.isIndexed(block)) return false;
    if (Atomics.load(this.meta, this.word(block, B_STATE)) === BlockState.Idle) {
      this.lruRemoveLocked(block);
      this.index.remove(block);
      Atomics.sub(this.meta, H_IDLE_COUNT, 1);
      this.pushFreeLocked(block);
    } else {
      this.index.remove(block);
    }
    return true;
  }

  /** Frees up to `n` idle cached blocks, least recently used first; returns how many. */
  evictIdleLocked(n: number): number {
    let count = 0;
    while (count < n && Atomics.load(this.meta, H_IDLE_COUNT) > 0) {
      this.pushFreeLocked(this.evictLruLocked());
      count++;
    }
    return count;
  }

  /** Frees every idle cached block; returns how many. */
  evictAllIdleLocked(): number {
    let count = 0;
    while (Atomics.load(this.meta, H_IDLE_COUNT) > 0) {
      this.pushFreeLocked(this.evictLruLocked());
      count++;
    }
    return count;
  }

  private releaseLastLocked(block: number): boolean {
    const at = this.word(block, B_REFS);
    if (Atomics.compareExchange(this.meta, at, 1, 0) !== 1) return false;
    Atomics.sub(this.meta, H_ACTIVE_COUNT, 1);
    if (this.index.isIndexed(block)) {
      Atomics.store(this.meta, this.word(block, B_STATE), BlockState.Idle);
      Atomics.add(this.meta, H_IDLE_COUNT, 1);
      this.lruAppendLocked(block);
    } else {
      this.pushFreeLocked(block);
    }
    return true;
  }

  private popFreeLocked(): number {
    const block = Atomics.load(this.meta, H_FREE_HEAD);
    Atomics.store(this.meta, H_FREE_HEAD, Atomics.load(this.meta, this.word(block, B_FREE_NEXT)));
    Atomics.store(this.meta, this.word(block, B_FREE_NEXT), NONE);
    Atomics.sub(this.meta, H_FREE_COUNT, 1);
    return block;
  }

  private pushFreeLocked(block: number): void {
    Atomics.store(this.meta, this.word(block, B_STATE), BlockState.Free);
    Atomics.store(this.meta, this.word(block, B_FREE_NEXT), Atomics.load(this.meta, H_FREE_HEAD));
    Atomics.store(this.meta, H_FREE_HEAD, block);
    Atomics.add(this.meta, H_FREE_COUNT, 1);
  }

  /** Removes the least recently used idle block from the LRU list and the index. */
  private evictLruLocked(): number {
    const block = Atomics.load(this.meta, H_LRU_HEAD);
    this.evictionHook?.(block, this.index.identity(block));
    this.lruRemoveLocked(block);
    this.index.remove(block);
    Atomics.sub(this.meta, H_IDLE_COUNT, 1);
    Atomics.add(this.meta, H_EVICTIONS, 1);
    return block;
  }

  private lruAppendLocked(block: number): void {
    const tail = Atomics.load(this.meta, H_LRU_TAIL);
    Atomics.store(this.meta, this.word(block, B_LRU_PREV), tail);
    Atomics.store(this.meta, this.word(block, B_LRU_NEXT), NONE);
    if (tail === NONE) Atomics.store(this.meta, H_LRU_HEAD, block);
    else Atomics.store(this.meta, this.word(tail, B_LRU_NEXT), block);
    Atomics.store(this.meta, H_LRU_TAIL, block);
  }

  private lruRemoveLocked(block: number): void {
    const prev = Atomics.load(this.meta, this.word(block, B_LRU_PREV));
    const next = Atomics.load(this.meta, this.word(block, B_LRU_NEXT));
    if (prev === NONE) Atomics.store(this.meta, H_LRU_HEAD, next);
    else Atomics.store(this.meta, this.word(prev, B_LRU_NEXT), next);
    if (next === NONE) Atomics.store(this.meta, H_LRU_TAIL, prev);
    else Atomics.store(this.meta, this.word(next, B_LRU_PREV), prev);
    Atomics.store(this.meta, this.word(block, B_LRU_PREV), NONE);
    Atomics.store(this.meta, this.word(block, B_LRU_NEXT), NONE);
  }

  private word(block: number, word: number): number {
    return blockWord(this.layout, block, word);
  }
}
