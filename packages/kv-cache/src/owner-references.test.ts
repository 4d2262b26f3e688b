import { describe, expect, it } from 'vitest';
import { BlockPool } from './block-pool.js';
import { KvArgumentError, KvOwnerError } from './errors.js';
import { holderCount, poolViolations } from './testing/pool-invariants.js';

const geometry = { blockSize: 2, layers: 2, heads: 1, headDim: 2, totalBlocks: 12, handoffSlots: 2, maxOwners: 4 };

describe('owner-tagged references', () => {
  it('counts every reference a view takes against its owner and drops them on release', () => {
    const pool = BlockPool.create(geometry);
    const mine = pool.withOwner(2);
    expect(mine.owner).toBe(2);
    const ids = mine.allocate(2) ?? [];
    const table = mine.createTable();
    expect(table.ensureCapacity(5)).toBe(true);
    const shared = mine.openTable(table.toDescriptor());
    mine.retain(ids);
    expect(mine.ownerReferences(2)).toBe(2 + 3 + 3 + 2);
    expect(holderCount(pool, 2, ids[0])).toBe(2);
    mine.release(ids);
    mine.release(ids);
    shared.release();
    table.release();
    expect(pool.ownerReferences(2)).toBe(0);
    expect(pool.stats()).toMatchObject({ free: 12, used: 0 });
    expect(poolViolations(pool)).toEqual([]);
  });

  it('counts prefix matches against the owner', () => {
    const pool = BlockPool.create(geometry);
    const table = pool.createTable();
    table.ensureCapacity(4);
    pool.publish(table, [1, 2, 3, 4]);
    const { table: hit, cachedTokens } = pool.withOwner(1).match([1, 2, 3, 4, 5]);
    expect(cachedTokens).toBe(4);
    expect(pool.ownerReferences(1)).toBe(2);
    table.release();
    expect(pool.withOwner(1).reclaimOwner(1)).toBe(2);
    expect(hit.blockIds.map((b) => pool.refCount(b))).toEqual([0, 0]);
    expect(pool.stats()).toMatchObject({ cached: 2, used: 0 });
    expect(poolViolations(pool)).toEqual([]);
  });

  it('reclaimOwner drops exactly what a dead owner held, leaving other holders alone', () => {
    const pool = BlockPool.create(geometry);
    const start = pool.stats().free;
    const dead = BlockPool.attach(pool.handle, { owner: 0 });
    const alive = pool.withOwner(1);
    const table = dead.createTable();
    table.ensureCapacity(6);
    const sharedByAlive = alive.openTable(table.toDescriptor());
    const unowned = pool.allocate(1) ?? [];
    dead.allocate(2);
    expect(pool.reclaimOwner(0)).toBe(2);
    expect(pool.reclaimOwner(0)).toBe(0);
    expect(sharedByAlive.blockIds.map((b) => pool.refCount(b))).toEqual([1, 1, 1]);
    sharedByAlive.release();
    pool.release(unowned);
    expect(pool.stats().free).toBe(start);
    expect(poolViolations(pool)).toEqual([]);
  });

  it('refuses to release a reference the owner does not hold, changing nothing', () => {
    const pool = BlockPool.create(geometry);
    const a = pool.withOwner(0).allocate(2) ?? [];
    const b = pool.withOwner(1);
    expect(() => b.release(a)).toThrow(KvOwnerError);
    expect(() => b.release(a)).toThrow(/owner 1 holds no \(more\) reference on block/);
    expect(() => pool.withOwner(0).release([a[0], a[0]])).toThrow(KvOwnerError);
    expect(a.map((id) => pool.refCount(id))).toEqual([1, 1]);
    expect(pool.ownerReferences(0)).toBe(2);
  });

  it('rejects bad owner ids with typed errors naming them', () => {
    const pool = BlockPool.create(geometry);
    expect(() => pool.withOwner(4)).toThrow(/withOwner: owner must be an integer in \[0, 4\)/);
    expect(() => BlockPool.attach(pool.handle, { owner: -1 })).toThrow(KvArgumentError);
    expect(() => pool.reclaimOwner(1.5)).toThrow(/reclaimOwner: owner/);
    expect(() => BlockPool.create({ ...geometry, maxOwners: -2 })).toThrow(/geometry.maxOwners/);
    const ownerless = BlockPool.create({ ...geometry, maxOwners: 0 });
    expect(() => ownerless.withOwner(0)).toThrow(KvArgumentError);
  });
});
