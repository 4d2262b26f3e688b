/**
 * Test support: reads a pool's shared metadata directly and lists every broken invariant of the
 * ledger, so property tests and cross-thread tests can assert `[]`. Checks: the free list holds
 * exactly `stats.free` distinct blocks, all unreferenced; the LRU list holds exactly
 * `stats.cached` unreferenced indexed blocks; no reference count is negative; `used` counts the
 * referenced blocks; free + used + cached = total; per-holder counts are never negative and never
 * sum past a block's reference count. Call it only while no other thread mutates the pool.
 */
import type { BlockPool } from '../block-pool.js';
import {
  B_FREE_NEXT,
  B_LRU_NEXT,
  H_FREE_HEAD,
  H_LRU_HEAD,
  NONE,
  blockWord,
  holderWord,
} from '../pool-layout.js';

/** Every invariant violation found (empty when the pool is consistent). */
export function poolViolations(pool: BlockPool): string[] {
  const meta = new Int32Array(pool.handle.meta);
  const { layout } = pool;
  const total = layout.geometry.totalBlocks;
  const stats = pool.stats();
  const out: string[] = [];
  const free = walk(meta, Atomics.load(meta, H_FREE_HEAD), (b) => blockWord(layout, b, B_FREE_NEXT), total, 'free list', out);
  const lru = walk(meta, Atomics.load(meta, H_LRU_HEAD), (b) => blockWord(layout, b, B_LRU_NEXT), total, 'LRU list', out);
  if (free.size !== stats.free) out.push(`free list holds ${free.size} blocks, stats.free = ${stats.free}`);
  if (lru.size !== stats.cached) out.push(`LRU list holds ${lru.size} blocks, stats.cached = ${stats.cached}`);
  if (stats.free + stats.used + stats.cached !== stats.total) {
    out.push(`free ${stats.free} + used ${stats.used} + cached ${stats.cached} != total ${stats.total}`);
  }
  let referenced = 0;
  for (let b = 0; b < total; b++) {
    const refs = pool.refCount(b);
    if (refs < 0) out.push(`block ${b} has reference count ${refs}`);
    if (refs > 0) referenced++;
    if (refs > 0 && (free.has(b) || lru.has(b))) out.push(`block ${b} is referenced (${refs}) and on the ${free.has(b) ? 'free' : 'LRU'} list`);
    if (free.has(b) && lru.has(b)) out.push(`block ${b} is on both the free and the LRU list`);
    if (refs === 0 && !free.has(b) && !lru.has(b)) out.push(`block ${b} is unreferenced and on no list (leaked)`);
    let held = 0;
    for (let h = 0; h < layout.holders; h++) {
      const n = holderCount(pool, h, b);
      if (n < 0) out.push(`holder ${h} has count ${n} on block ${b}`);
      held += n;
    }
    if (held > refs) out.push(`holders count ${held} references on block ${b}, its reference count is ${refs}`);
  }
  if (referenced !== stats.used) out.push(`${referenced} blocks are referenced, stats.used = ${stats.used}`);
  return out;
}

/** References holder `holder` (owner id, or maxOwners + slot) counts on `block`. */
export function holderCount(pool: BlockPool, holder: number, block: number): number {
  const meta = new Int32Array(pool.handle.meta);
  return Atomics.load(meta, holderWord(pool.layout, holder, block));
}

function walk(meta: Int32Array, head: number, next: (b: number) => number, total: number, what: string, out: string[]): Set<number> {
  const seen = new Set<number>();
  for (let b = head; b !== NONE; b = Atomics.load(meta, next(b))) {
    if (b < 0 || b >= total || seen.has(b)) {
      out.push(`${what} is corrupt at block ${b}`);
      break;
    }
    seen.add(b);
  }
  return seen;
}
