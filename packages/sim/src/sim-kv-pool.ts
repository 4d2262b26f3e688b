/**
 * SimKvPool: block accounting of one KV pool, with a prefix cache, as @baton/kv-cache's BlockPool
 * behaves for the scheduler: blocks are held by live sequences (anonymous, or published under a
 * chained prefix hash and shared by reference count), or cached (published, unreferenced,
 * evictable least recently used first), or free. `freeForRouting` = free + cached, the figure a
 * decode actor reports.
 *
 * Invariants: anonymous + held + cached + free = total; a hashed block is in the LRU exactly when
 * its reference count is 0 (then `#stamp` holds it).
 */

/** Blocks one sequence holds in a pool. */
export interface KvHolding {
  anon: number;
  hashes: number[];
}

/** One pool's block counts. */
export class SimKvPool {
  readonly total: number;
  #anon = 0;
  #held = 0;
  readonly #refs = new Map<number, number>();
  /**
   * Unreferenced published blocks, least recently used first: a queue of (key, stamp) with lazy
   * removal — an entry counts only while `#stamp` still maps its key to its stamp.
   * NOTE: a Set iterated from its start after many deletions rescans their holes (quadratic).
   */
  #lruKeys: number[] = [];
  #lruStamps: number[] = [];
  #lruHead = 0;
  readonly #stamp = new Map<number, number>();
  #stamps = 0;

  constructor(total: number) {
    this.total = total;
  }

  /** Blocks neither held nor cached. */
  get free(): number {
    return this.total - this.#anon - this.#held - this.#stamp.size;
  }

  /** Free plus evictable cached blocks. */
  get freeForRouting(): number {
    return this.total - this.#anon - this.#held;
  }

  /** Leading `hashes` present in the cache (held or cached). */
  matchLength(hashes: readonly number[]): number {
    let k = 0;
    while (k < hashes.length && this.#refs.has(hashes[k])) k++;
    return k;
  }

  /**
   * Reserves room for `tokens` tokens reusing the first `matched` hashed blocks; null when the
   * pool cannot hold it now (nothing changes then).
   */
  reserve(hashes: readonly number[], matched: number, tokens: number, blockSize: number): KvHolding | null {
    const need = Math.max(0, Math.ceil(tokens / blockSize) - matched);
    // NOTE: the matched blocks are referenced first, so eviction below can never take them.
    for (let i = 0; i < matched; i++) this.#ref(hashes[i]);
    if (!this.#make(need)) {
      this.release({ anon: 0, hashes: hashes.slice(0, matched) });
      return null;
    }
    this.#anon += need;
    return { anon: need, hashes: hashes.slice(0, matched) };
  }

  /** One more anonymous block for `h`; false when none can be had. */
  grow(h: KvHolding, blocks = 1): boolean {
    if (!this.#make(blocks)) return false;
    this.#anon += blocks;
    h.anon += blocks;
    return true;
  }

  /** Publishes the holding's first full blocks under `hashes` (turning anonymous blocks into shared ones). */
  publish(h: KvHolding, hashes: readonly number[]): void {
    for (let i = h.hashes.length; i < hashes.length && h.anon > 0; i++) {
      const key = hashes[i];
      if (this.#refs.has(key)) break;
      this.#refs.set(key, 1);
      this.#held++;
      this.#anon--;
      h.anon--;
      h.hashes.push(key);
    }
  }

  /** Releases everything the holding has (it is empty afterwards). */
  release(h: KvHolding): void {
    this.#anon -= h.anon;
    h.anon = 0;
    for (const key of h.hashes) {
      const r = (this.#refs.get(key) ?? 1) - 1;
      this.#refs.set(key, r);
      if (r === 0) {
        this.#held--;
        this.#lruAdd(key);
      }
    }
    h.hashes = [];
  }

  /** Blocks a holding counts. */
  static blocks(h: KvHolding): number {
    return h.anon + h.hashes.length;
  }

  #ref(key: number): void {
    const r = this.#refs.get(key) ?? 0;
    if (r === 0) {
      this.#stamp.delete(key);
      this.#held++;
    }
    this.#refs.set(key, r + 1);
  }

  #lruAdd(key: number): void {
    const stamp = ++this.#stamps;
    this.#stamp.set(key, stamp);
    this.#lruKeys.push(key);
    this.#lruStamps.push(stamp);
  }

  /** Ensures `n` free blocks, evicting cached ones least recently used first; false if impossible. */
  #make(n: number): boolean {
    if (n <= this.free) return true;
    if (n > this.free + this.#stamp.size) return false;
    while (n > this.free) {
      const key = this.#lruKeys[this.#lruHead];
      const stamp = this.#lruStamps[this.#lruHead];
      this.#lruHead++;
      if (this.#stamp.get(key) !== stamp) continue;
      this.#stamp.delete(key);
      this.#refs.delete(key);
    }
    if (this.#lruHead > 1024 && this.#lruHead * 2 > this.#lruKeys.length) {
      this.#lruKeys = this.#lruKeys.slice(this.#lruHead);
      this.#lruStamps = this.#lruStamps.slice(this.#lruHead);
      this.#lruHead = 0;
    }
    return true;
  }
}

/** Chained hashes of the full `blockSize`-token blocks of `ids` (equal prefixes, equal hashes). */
export function blockHashes(ids: readonly number[], blockSize: number): number[] {
  const out: number[] = [];
  let h = 0x811c9dc5;
  let g = 0x01000193;
  for (let end = blockSize; end <= ids.length; end += blockSize) {
    for (let i = end - blockSize; i < end; i++) {
      h = Math.imul(h ^ ids[i], 0x01000193) >>> 0;
      g = Math.imul(g ^ (ids[i] + 0x9e37), 0x85ebca6b) >>> 0;
    }
    // NOTE: two FNV-style lanes folded into a 30-bit small integer (fast Map keys). A collision only
    // matters inside one pool's cache (at most its block count of keys): about 1e-6 per lookup.
    out.push((h ^ Math.imul(g, 0x27d4eb2d)) & 0x3fffffff);
  }
  return out;
}
