/**
 * References counted against an owner: a small integer id a thread declares once
 * (`BlockPool.attach(handle, { owner })` or `pool.withOwner(id)`). Every reference that view takes
 * (allocate, retain, match, openTable, ensureCapacity, handoff adoption) adds to the owner's row
 * of the holder matrix in the same critical section as the reference count, and every reference it
 * drops subtracts from it, so `reclaim(owner)`, run by any thread once the owner is known dead,
 * drops exactly the references the owner still held.
 *
 * NOTE: owned operations always take the pool lock (the unowned retain/release fast paths are
 * lock-free), so the reference count and the owner's count never disagree outside the lock.
 * A thread killed while it HOLDS the lock leaves the pool locked; killing happens between pool
 * calls in practice (a worker's pool critical sections are short and never await).
 */
import type { BlockLedger } from './block-ledger.js';
import { KvOwnerError } from './errors.js';
import type { HolderCounts } from './holder-counts.js';
import type { SharedMutex } from './shared-mutex.js';

/** Owner-counted reference operations of one pool. `owner` must be a valid owner id. */
export class OwnerReferences {
  private readonly mutex: SharedMutex;
  private readonly ledger: BlockLedger;
  private readonly holders: HolderCounts;

  constructor(options: { mutex: SharedMutex; ledger: BlockLedger; holders: HolderCounts }) {
    this.mutex = options.mutex;
    this.ledger = options.ledger;
    this.holders = options.holders;
  }

  /** Takes `n` blocks for `owner`, or null (nothing taken). */
  allocate(owner: number, n: number): number[] | null {
    return this.mutex.withLock(() => {
      const ids = this.ledger.allocateLocked(n);
      if (ids !== null) this.countLocked(owner, ids);
      return ids;
    });
  }

  /** Adds a reference for `owner` to each block (all-or-nothing; each must hold one). */
  retain(owner: number, blockIds: ArrayLike<number>): void {
    this.mutex.withLock(() => {
      this.ledger.retainAllLocked(blockIds);
      this.countLocked(owner, blockIds);
    });
  }

  /** Counts references already taken under the lock (a prefix match) against `owner`. */
  countLocked(owner: number, blockIds: ArrayLike<number>): void {
    this.holders.addAllLocked(this.holders.ownerHolder(owner), blockIds);
  }

  /**
   * Drops one of `owner`'s references from each block, all-or-nothing: throws KvOwnerError
   * (changing nothing) when the owner holds fewer references on a block than it releases.
   */
  release(owner: number, blockIds: ArrayLike<number>): void {
    this.mutex.withLock(() => {
      const holder = this.holders.ownerHolder(owner);
      const missing = this.holders.firstMissingLocked(holder, blockIds);
      if (missing !== null) {
        throw new KvOwnerError(
          owner,
          `release: owner ${owner} holds no (more) reference on block ${blockIds[missing]} (blockIds[${missing}])`,
        );
      }
      this.holders.subtractAllLocked(holder, blockIds);
      for (let i = 0; i < blockIds.length; i++) this.ledger.releaseLocked(blockIds[i]);
    });
  }

  /** Drops every reference `owner` holds; returns how many blocks lost their last reference. */
  reclaim(owner: number): number {
    return this.mutex.withLock(() => {
      const { blocks, counts } = this.holders.drainLocked(this.holders.ownerHolder(owner));
      let unreferenced = 0;
      for (let i = 0; i < blocks.length; i++) {
        for (let n = 0; n < counts[i]; n++) {
          if (this.ledger.releaseLocked(blocks[i])) unreferenced++;
        }
      }
      return unreferenced;
    });
  }

  /** References `owner` holds now (over all blocks). */
  total(owner: number): number {
    return this.mutex.withLock(() => this.holders.totalLocked(this.holders.ownerHolder(owner)));
  }
}
