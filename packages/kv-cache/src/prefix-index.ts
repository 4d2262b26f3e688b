/**
 * The prefix index in shared memory: chained hash buckets mapping a chain key to the block that
 * holds those tokens. Each indexed block stores its key, its parent's key and its token ids, so a
 * lookup verifies all three. Every method here must be called with the pool lock held.
 */
import {
  B_CHAIN_NEXT,
  B_HASH_HI,
  B_HASH_LO,
  B_INDEXED,
  B_PARENT_HI,
  B_PARENT_LO,
  H_INDEXED_COUNT,
  INDEXED,
  NONE,
  NOT_INDEXED,
  blockWord,
  type PoolLayout,
} from './pool-layout.js';
import type { ChainKey } from './prefix-hash.js';

/** One full block's identity in the chain. */
export interface IndexEntry {
  readonly key: ChainKey;
  readonly parent: ChainKey;
  readonly tokens: ArrayLike<number>;
  /** Index of the block's first token in `tokens`. */
  readonly start: number;
}

/** What identifies a cached block in the chain, as read back from the index. */
export interface CachedBlockIdentity {
  readonly key: ChainKey;
  readonly parent: ChainKey;
  /** The block's token ids (blockSize of them). */
  readonly tokens: Int32Array;
}

/** Lock-held operations on the prefix hash buckets. */
export class PrefixIndex {
  private readonly meta: Int32Array;
  private readonly layout: PoolLayout;

  constructor(meta: Int32Array, layout: PoolLayout) {
    this.meta = meta;
    this.layout = layout;
  }

  /** Marks every bucket empty (pool creation only). */
  clear(): void {
    const { bucketBase, bucketCount } = this.layout;
    this.meta.fill(NONE, bucketBase, bucketBase + bucketCount);
  }

  isIndexed(block: number): boolean {
    return Atomics.load(this.meta, blockWord(this.layout, block, B_INDEXED)) === INDEXED;
  }

  /** The block holding `entry`, or null. */
  lookup(entry: IndexEntry): number | null {
    const { meta, layout } = this;
    let block = Atomics.load(meta, this.bucketOf(entry.key));
    while (block !== NONE) {
      if (this.matches(block, entry)) return block;
      block = Atomics.load(meta, blockWord(layout, block, B_CHAIN_NEXT));
    }
    return null;
  }

  /** Registers `block` as holding `entry`. The caller checked that no block holds it yet. */
  insert(block: number, entry: IndexEntry): void {
    const { meta, layout } = this;
    const w = (word: number): number => blockWord(layout, block, word);
    Atomics.store(meta, w(B_HASH_HI), entry.key.hi | 0);
    Atomics.store(meta, w(B_HASH_LO), entry.key.lo | 0);
    Atomics.store(meta, w(B_PARENT_HI), entry.parent.hi | 0);
    Atomics.store(meta, w(B_PARENT_LO), entry.parent.lo | 0);
    const base = layout.tokenBase + block * layout.geometry.blockSize;
    for (let i = 0; i < layout.geometry.blockSize; i++) {
      Atomics.store(meta, base + i, entry.tokens[entry.start + i] | 0);
    }
    const bucket = this.bucketOf(entry.key);
    Atomics.store(meta, w(B_CHAIN_NEXT), Atomics.load(meta, bucket));
    Atomics.store(meta, bucket, block);
    Atomics.store(meta, w(B_INDEXED), INDEXED);
    Atomics.add(meta, H_INDEXED_COUNT, 1);
  }

  /** The chain identity `block` is indexed under (its key, its parent's key, its token ids). */
  identity(block: number): CachedBlockIdentity {
    const { meta, layout } = this;
    const word = (w: number): number => Atomics.load(meta, blockWord(layout, block, w)) >>> 0;
    const base = layout.tokenBase + block * layout.geometry.blockSize;
    return {
      key: { hi: word(B_HASH_HI), lo: word(B_HASH_LO) },
      parent: { hi: word(B_PARENT_HI), lo: word(B_PARENT_LO) },
      tokens: meta.slice(base, base + layout.geometry.blockSize),
    };
  }

  /** Unlinks `block` from its bucket. */
  remove(block: number): void {
    const { meta, layout } = this;
    const key = {
      hi: Atomics.load(meta, blockWord(layout, block, B_HASH_HI)) >>> 0,
      lo: Atomics.load(meta, blockWord(layout, block, B_HASH_LO)) >>> 0,
    };
    let link = this.bucketOf(key);
    let current = Atomics.load(meta, link);
    while (current !== NONE && current !== block) {
      link = blockWord(layout, current, B_CHAIN_NEXT);
      current = Atomics.load(meta, link);
    }
    if (current === block) {
      Atomics.store(meta, link, Atomics.load(meta, blockWord(layout, block, B_CHAIN_NEXT)));
    }
    Atomics.store(meta, blockWord(layout, block, B_CHAIN_NEXT), NONE);
    Atomics.store(meta, blockWord(layout, block, B_INDEXED), NOT_INDEXED);
    Atomics.sub(meta, H_INDEXED_COUNT, 1);
  }

  private bucketOf(key: ChainKey): number {
    return this.layout.bucketBase + ((key.lo ^ Math.imul(key.hi, 0x9e3779b1)) & (this.layout.bucketCount - 1));
  }

  private matches(block: number, entry: IndexEntry): boolean {
    const { meta, layout } = this;
    const word = (w: number): number => Atomics.load(meta, blockWord(layout, block, w)) >>> 0;
    if (word(B_HASH_HI) !== entry.key.hi || word(B_HASH_LO) !== entry.key.lo) return false;
    if (word(B_PARENT_HI) !== entry.parent.hi || word(B_PARENT_LO) !== entry.parent.lo) return false;
    const base = layout.tokenBase + block * layout.geometry.blockSize;
    for (let i = 0; i < layout.geometry.blockSize; i++) {
      if (Atomics.load(meta, base + i) !== (entry.tokens[entry.start + i] | 0)) return false;
    }
    return true;
  }
}
