/**
 * Per-holder reference counts in the pool's shared metadata: an Int32 matrix
 * [holders x totalBlocks] where a holder is an owner (row `owner`, a thread that declared an owner
 * id) or a handoff slot (row `maxOwners + slot`). Entry (h, b) is how many of block b's references
 * holder h took and has not dropped yet.
 *
 * Invariant (under the pool lock): for every block b,
 *     refCount(b) = sum over holders h of count(h, b) + references taken without an owner,
 * so the holder counts of a block never exceed its reference count.
 *
 * Every method requires the pool lock. NOTE: plain (non-Atomics) reads and writes: the matrix is
 * only touched under the lock, whose Atomics order them across threads.
 */
import { holderWord, type PoolLayout } from './pool-layout.js';

/** The holder matrix of one pool. Methods named `*Locked` require the pool lock. */
export class HolderCounts {
  private readonly meta: Int32Array;
  private readonly layout: PoolLayout;

  constructor(options: { meta: Int32Array; layout: PoolLayout }) {
    this.meta = options.meta;
    this.layout = options.layout;
  }

  /** Holder row of owner `owner`. */
  ownerHolder(owner: number): number {
    return owner;
  }

  /** Holder row of handoff slot `slot`. */
  slotHolder(slot: number): number {
    return this.layout.maxOwners + slot;
  }

  countLocked(holder: number, block: number): number {
    return this.meta[this.at(holder, block)];
  }

  addLocked(holder: number, block: number, n: number): void {
    this.meta[this.at(holder, block)] += n;
  }

  /** Adds one to (holder, b) for each b of `blocks`. */
  addAllLocked(holder: number, blocks: ArrayLike<number>): void {
    for (let i = 0; i < blocks.length; i++) this.meta[this.at(holder, blocks[i])] += 1;
  }

  /** Index of the first block of `blocks` the holder has fewer than its occurrences of, or null. */
  firstMissingLocked(holder: number, blocks: ArrayLike<number>): number | null {
    for (let i = 0; i < blocks.length; i++) this.meta[this.at(holder, blocks[i])] -= 1;
    let missing: number | null = null;
    for (let i = 0; i < blocks.length; i++) {
      if (missing === null && this.meta[this.at(holder, blocks[i])] < 0) missing = i;
    }
    for (let i = 0; i < blocks.length; i++) this.meta[this.at(holder, blocks[i])] += 1;
    return missing;
  }

  /** Subtracts one from (holder, b) for each b of `blocks` (caller checked firstMissingLocked). */
  subtractAllLocked(holder: number, blocks: ArrayLike<number>): void {
    for (let i = 0; i < blocks.length; i++) this.meta[this.at(holder, blocks[i])] -= 1;
  }

  /** Empties the holder's row; returns (block, count) pairs of the entries that were non-zero. */
  drainLocked(holder: number): { blocks: number[]; counts: number[] } {
    const blocks: number[] = [];
    const counts: number[] = [];
    const base = this.at(holder, 0);
    for (let b = 0; b < this.layout.geometry.totalBlocks; b++) {
      const n = this.meta[base + b];
      if (n === 0) continue;
      blocks.push(b);
      counts.push(n);
      this.meta[base + b] = 0;
    }
    return { blocks, counts };
  }

  /** Sum of the holder's row. */
  totalLocked(holder: number): number {
    const base = this.at(holder, 0);
    let sum = 0;
    for (let b = 0; b < this.layout.geometry.totalBlocks; b++) sum += this.meta[base + b];
    return sum;
  }

  private at(holder: number, block: number): number {
    return holderWord(this.layout, holder, block);
  }
}
