/**
 * Prefix caching over the ledger and index: `match` (take references on the longest run of cached
 * full blocks), `peek` (the same length, no references, no hit/miss counting) and `publish`
 * (register a sequence's full, written blocks). Hits and misses are counted in blocks.
 */
import { KvArgumentError } from './errors.js';
import type { BlockLedger } from './block-ledger.js';
import { H_HITS, H_MISSES, type PoolLayout } from './pool-layout.js';
import { ROOT_KEY, chainKey, firstBadToken, type ChainKey } from './prefix-hash.js';
import type { IndexEntry, PrefixIndex } from './prefix-index.js';
import type { SharedMutex } from './shared-mutex.js';

/** Lock-taking prefix cache operations shared by every thread attached to a pool. */
export class PrefixCache {
  private readonly meta: Int32Array;
  private readonly layout: PoolLayout;
  private readonly mutex: SharedMutex;
  private readonly ledger: BlockLedger;
  private readonly index: PrefixIndex;

  constructor(options: {
    meta: Int32Array;
    layout: PoolLayout;
    mutex: SharedMutex;
    ledger: BlockLedger;
    index: PrefixIndex;
  }) {
    this.meta = options.meta;
    this.layout = options.layout;
    this.mutex = options.mutex;
    this.ledger = options.ledger;
    this.index = options.index;
  }

  /**
   * Block ids of the longest cached run of full blocks of `tokens`, each with a new reference.
   * `onTakenLocked` runs in the same critical section with the ids (to count them for an owner).
   * With `fromBlock`, the run starts at that full block (the caller holds the ones before it).
   */
  match(tokens: ArrayLike<number>, onTakenLocked: ((ids: number[]) => void) | null = null, fromBlock = 0): number[] {
    const entries = this.entriesOf(tokens, 'match').slice(fromBlock);
    return this.mutex.withLock(() => {
      const ids: number[] = [];
      for (const entry of entries) {
        const block = this.index.lookup(entry);
        if (block === null) break;
        this.ledger.retainCachedLocked(block);
        ids.push(block);
      }
      Atomics.add(this.meta, H_HITS, ids.length);
      Atomics.add(this.meta, H_MISSES, entries.length - ids.length);
      onTakenLocked?.(ids);
      return ids;
    });
  }

  /** Number of leading full blocks of `tokens` that are cached (no references taken). */
  peek(tokens: ArrayLike<number>): number {
    const entries = this.entriesOf(tokens, 'cachedPrefixLength');
    return this.mutex.withLock(() => {
      let n = 0;
      while (n < entries.length && this.index.lookup(entries[n]) !== null) n++;
      return n;
    });
  }

  /**
   * Indexes `blockIds[i]` as holding full block i of `tokens`, for every full block covered by
   * both. A block already indexed, or a key already held by another block, is skipped.
   * Returns the number of blocks newly indexed.
   */
  publish(blockIds: readonly number[], tokens: ArrayLike<number>): number {
    const entries = this.entriesOf(tokens, 'publish').slice(0, blockIds.length);
    return this.mutex.withLock(() => {
      let added = 0;
      for (let i = 0; i < entries.length; i++) {
        const block = blockIds[i];
        if (this.ledger.refCount(block) < 1) {
          throw new KvArgumentError(`publish: block ${block} (position ${i}) holds no reference`);
        }
        if (this.index.isIndexed(block) || this.index.lookup(entries[i]) !== null) continue;
        this.index.insert(block, entries[i]);
        added++;
      }
      return added;
    });
  }

  /** Takes the indexed full blocks of `tokens` out of the index (ledger.forgetLocked); returns how many. */
  forget(tokens: ArrayLike<number>): number {
    const entries = this.entriesOf(tokens, 'forgetPrefix');
    return this.mutex.withLock(() => {
      let n = 0;
      for (const entry of entries) {
        const block = this.index.lookup(entry);
        if (block !== null && this.ledger.forgetLocked(block)) n++;
      }
      return n;
    });
  }

  private entriesOf(tokens: ArrayLike<number>, what: string): IndexEntry[] {
    if (tokens === null || typeof tokens !== 'object' || typeof tokens.length !== 'number') {
      throw new KvArgumentError(`${what}: tokens must be an array of token ids`);
    }
    const bad = firstBadToken(tokens);
    if (bad !== null) {
      throw new KvArgumentError(`${what}: tokens[${bad}] = ${String(tokens[bad])} is not an int32 token id`);
    }
    const blockSize = this.layout.geometry.blockSize;
    const entries: IndexEntry[] = [];
    let parent: ChainKey = ROOT_KEY;
    for (let start = 0; start + blockSize <= tokens.length; start += blockSize) {
      const key = chainKey(parent, tokens, start, blockSize);
      entries.push({ key, parent, tokens, start });
      parent = key;
    }
    return entries;
  }
}
