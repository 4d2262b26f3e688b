/**
 * SimKvPool: block accounting of one KV pool, with a prefix cache, as @baton/kv-cache's BlockPool
 * behaves for the scheduler: blocks are held by live sequences (anonymous, or published under a
 * chained prefix hash and shared by reference count), or cached (published, unreferenced,
 * evictable least recently used first), or free. `freeForRouting` = free + cached, the figure a
 * decode actor reports.
 *
 * Invariants: anonymous + held + cached + free = total; a hashed block is in the LRU exactly when
 * its reference count is 0.
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
  /** Unreferenced published blocks, least recently used first. */
  readonly #lru = new Set<number>();

  constructor(total: number) {
    this.total = total;
  }

  /** Blocks neither held nor cached. */
  get free(): number {
    return this.total - this.#anon - this.#held - this.#lru.size;
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
    if (!this.#make(need, hashes.slice(0, matched))) return null;
    for (let i = 0; i < matched; i++) this.#ref(hashes[i]);
    this.#anon += need;
    return { anon: need, hashes: hashes.slice(0, matched) };
  }

  /** One more anonymous block for `h`; false when none can be had. */
  grow(h: KvHolding, blocks = 1): boolean {
    if (!this.#make(blocks, h.hashes)) return false;
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
        this.#lru.add(key);
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
      this.#lru.delete(key);
      this.#held++;
    }
    this.#refs.set(key, r + 1);
  }

  /** Ensures `n` free blocks, evicting cached ones (never those in `keep`); false if impossible. */
  #make(n: number, keep: readonly number[]): boolean {
    if (n <= this.free) return true;
    const pinned = keep.filter((k) => this.#lru.has(k)).length;
    if (n > this.free + this.#lru.size - pinned) return false;
    for (const key of this.#lru) {
      if (n <= this.free) break;
      if (keep.includes(key)) continue;
      this.#lru.delete(key);
      this.#refs.delete(key);
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
    // NOTE: two 32-bit FNV-style lanes folded into one exact double (53 bits): collisions are negligible.
    out.push((h % 0x200000) * 0x100000000 + g);
  }
  return out;
}
