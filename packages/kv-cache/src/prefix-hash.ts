/**
 * The prefix hash chain: a full block's key is hash(parent key, its token ids). Two 32-bit lanes
 * (murmur3-style mixing with different seeds) form a 64-bit key. Lookups also compare the stored
 * token ids and parent key, so a bucket collision can never return a wrong block.
 */

/** A 64-bit chain key as two unsigned 32-bit lanes. */
export interface ChainKey {
  readonly hi: number;
  readonly lo: number;
}

/** Key of the (empty) parent of a sequence's first block. */
export const ROOT_KEY: ChainKey = { hi: 0x6a09e667, lo: 0xbb67ae85 };

function mix(h: number, word: number): number {
  let k = Math.imul(word, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function finish(h: number, length: number): number {
  h ^= length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Key of the block holding `tokens[start, start + blockSize)` whose parent has key `parent`. */
export function chainKey(parent: ChainKey, tokens: ArrayLike<number>, start: number, blockSize: number): ChainKey {
  let hi = mix(parent.hi, parent.lo) ^ 0x3c6ef372;
  let lo = mix(parent.lo, parent.hi) ^ 0xa54ff53a;
  for (let i = start; i < start + blockSize; i++) {
    const t = tokens[i] | 0;
    hi = mix(hi, t);
    lo = mix(lo, t ^ 0x9e3779b9);
  }
  return { hi: finish(hi, blockSize), lo: finish(lo, blockSize ^ 0x5bd1e995) };
}

/** Validates a token list (integers in int32 range). Returns the offending index or null. */
export function firstBadToken(tokens: ArrayLike<number>): number | null {
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (!Number.isInteger(t) || t < -0x80000000 || t > 0x7fffffff) return i;
  }
  return null;
}
