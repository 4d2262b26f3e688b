import { describe, expect, it } from 'vitest';
import { BlockPool } from './block-pool.js';
import { KvArgumentError, KvRefCountError } from './errors.js';

const geometry = { blockSize: 4, layers: 2, heads: 2, headDim: 3, totalBlocks: 8 };

describe('BlockPool allocation', () => {
  it('hands out distinct blocks and returns null when exhausted', () => {
    const pool = BlockPool.create(geometry);
    const a = pool.allocate(5);
    expect(a).not.toBeNull();
    expect(pool.allocate(4)).toBeNull();
    const b = pool.allocate(3);
    expect(new Set([...(a ?? []), ...(b ?? [])]).size).toBe(8);
    expect(pool.stats()).toMatchObject({ total: 8, free: 0, used: 8, cached: 0 });
    pool.release([...(a ?? []), ...(b ?? [])]);
    expect(pool.stats()).toMatchObject({ free: 8, used: 0 });
  });

  it('counts references and refuses to drop one that does not exist', () => {
    const pool = BlockPool.create(geometry);
    const [id] = pool.allocate(1) ?? [];
    pool.retain([id]);
    expect(pool.refCount(id)).toBe(2);
    pool.release([id]);
    pool.release([id]);
    expect(pool.refCount(id)).toBe(0);
    expect(() => pool.release([id])).toThrow(KvRefCountError);
    expect(() => pool.retain([id])).toThrow(KvRefCountError);
    expect(pool.refCount(id)).toBe(0);
  });

  it('rejects bad arguments with typed errors naming them', () => {
    const pool = BlockPool.create(geometry);
    expect(() => pool.allocate(-1)).toThrow(/allocate: n/);
    expect(() => pool.release([99])).toThrow(KvArgumentError);
    expect(() => BlockPool.create({ ...geometry, heads: 0 })).toThrow(/geometry.heads/);
    expect(pool.allocate(0)).toEqual([]);
  });

  it('attaches a second view to the same shared memory', () => {
    const pool = BlockPool.create(geometry);
    const other = BlockPool.attach(structuredClone(pool.handle));
    const ids = other.allocate(3) ?? [];
    expect(pool.stats().used).toBe(3);
    pool.release(ids);
    expect(other.stats().free).toBe(8);
  });
});

describe('BlockPool prefix cache', () => {
  const tokens = Array.from({ length: 10 }, (_, i) => 100 + i);

  function publishSequence(pool: BlockPool, prompt: number[]): void {
    const table = pool.createTable();
    expect(table.ensureCapacity(prompt.length)).toBe(true);
    pool.publish(table, prompt);
    table.release();
  }

  it('matches the longest run of cached full blocks and counts hits and misses', () => {
    const pool = BlockPool.create(geometry);
    expect(pool.match(tokens).cachedTokens).toBe(0);
    expect(pool.stats()).toMatchObject({ hits: 0, misses: 2 });
    publishSequence(pool, tokens);
    expect(pool.stats()).toMatchObject({ cached: 2, indexed: 2, free: 6, used: 0 });
    expect(pool.cachedPrefixLength(tokens)).toBe(8);
    expect(pool.cachedPrefixLength([...tokens.slice(0, 4), 1, 2, 3, 4])).toBe(4);
    expect(pool.stats()).toMatchObject({ hits: 0, misses: 2 });
    const hit = pool.match([...tokens.slice(0, 6), 7, 7, 7]);
    expect(hit.cachedTokens).toBe(4);
    expect(pool.stats()).toMatchObject({ hits: 1, misses: 3, used: 1, cached: 1 });
    hit.table.release();
  });

  it('evicts idle cached blocks least recently used first, only under pressure', () => {
    const pool = BlockPool.create(geometry);
    const first = tokens.slice(0, 4);
    const second = [9, 9, 9, 9];
    publishSequence(pool, first);
    publishSequence(pool, second);
    const big = pool.allocate(6) ?? [];
    expect(pool.stats()).toMatchObject({ evictions: 0, cached: 2 });
    pool.match(first).table.release(); // `first` becomes the most recently used
    const more = pool.allocate(1) ?? [];
    expect(pool.stats().evictions).toBe(1);
    expect(pool.cachedPrefixLength(first)).toBe(4);
    expect(pool.cachedPrefixLength(second)).toBe(0);
    expect(pool.allocate(2)).toBeNull();
    pool.release([...big, ...more]);
    expect(pool.evictAllCached()).toBe(1);
    expect(pool.stats()).toMatchObject({ free: 8, cached: 0, indexed: 0 });
  });

  it('evicts the tail of a released sequence before its head', () => {
    const pool = BlockPool.create(geometry);
    publishSequence(pool, tokens.slice(0, 8));
    const hold = pool.allocate(7) ?? [];
    expect(pool.cachedPrefixLength(tokens)).toBe(4);
    pool.release(hold);
  });

  it('rejects malformed token lists', () => {
    const pool = BlockPool.create(geometry);
    expect(() => pool.match([1, 2.5])).toThrow(/tokens\[1\]/);
  });
});
