import { describe, expect, it } from 'vitest';
import { BlockPool } from './block-pool.js';
import type { BlockTable } from './block-table.js';
import { HandoffCancelledError, KvArgumentError } from './errors.js';
import { holderCount, poolViolations } from './testing/pool-invariants.js';

const geometry = { blockSize: 2, layers: 2, heads: 1, headDim: 2, totalBlocks: 8, handoffSlots: 3, maxOwners: 4 };
const FAR = 1e12;

function tableOf(pool: BlockPool, tokens: number): BlockTable {
  const table = pool.createTable();
  if (!table.ensureCapacity(tokens)) throw new Error('test pool too small');
  return table;
}

describe('handoff deadlines and owner cleanup', () => {
  it('sweeps a pending handoff past its deadline: refs dropped once, producer sees cancelled, adopt fails', () => {
    const pool = BlockPool.create(geometry);
    const table = tableOf(pool, 4);
    const producer = pool.openHandoff(table, { tokenCount: 4, deadlineMs: 50 });
    if (producer === null) throw new Error('no slot');
    const consumer = pool.acceptHandoff(producer.descriptor);
    table.release();
    expect(pool.sweepExpiredHandoffs(Date.now() - 1000)).toBe(0);
    expect(pool.sweepExpiredHandoffs(Date.now() + FAR)).toBe(1);
    expect(pool.sweepExpiredHandoffs(Date.now() + FAR)).toBe(0);
    expect(producer.state).toBe('cancelled');
    expect(() => producer.publishLayer(0)).toThrow(HandoffCancelledError);
    expect(() => consumer.adopt()).toThrow(HandoffCancelledError);
    expect(consumer.cancel()).toBe(false);
    expect(pool.stats()).toMatchObject({ free: 8, used: 0 });
    expect(poolViolations(pool)).toEqual([]);
  });

  it('sweeps a complete but unadopted handoff, never an adopted one or one without a deadline', () => {
    const pool = BlockPool.create(geometry);
    const open = (deadlineMs?: number) => {
      const table = tableOf(pool, 2);
      const producer = pool.openHandoff(table, { tokenCount: 2, deadlineMs });
      table.release();
      producer?.publishLayer(0);
      producer?.publishLayer(1);
      if (producer === null) throw new Error('no slot');
      return producer;
    };
    const complete = open(0);
    const adopted = pool.acceptHandoff(open(0).descriptor).adopt();
    const forever = open();
    expect(pool.sweepExpiredHandoffs()).toBe(1);
    expect(complete.state).toBe('cancelled');
    expect(forever.state).toBe('complete');
    expect(adopted.blockIds.map((b) => pool.refCount(b))).toEqual([1]);
    adopted.release();
    forever.cancel();
    expect(pool.stats().free).toBe(8);
    expect(poolViolations(pool)).toEqual([]);
  });

  it('moves references from the handoff slot to the adopting owner', () => {
    const pool = BlockPool.create(geometry);
    const prefill = pool.withOwner(0);
    const decode = pool.withOwner(1);
    const table = tableOf(prefill, 4);
    const producer = prefill.openHandoff(table, { tokenCount: 4 });
    if (producer === null) throw new Error('no slot');
    const slotHolder = pool.layout.maxOwners + producer.descriptor.slot;
    const [first] = table.blockIds;
    expect(holderCount(pool, slotHolder, first)).toBe(1);
    expect(pool.ownerReferences(0)).toBe(2);
    table.release();
    producer.publishLayer(0);
    producer.publishLayer(1);
    const adopted = decode.acceptHandoff(producer.descriptor).adopt();
    expect(holderCount(pool, slotHolder, first)).toBe(0);
    expect(pool.ownerReferences(1)).toBe(2);
    expect(pool.reclaimOwner(1)).toBe(2);
    expect(adopted.blockIds.map((b) => pool.refCount(b))).toEqual([0, 0]);
    expect(pool.stats().free).toBe(8);
    expect(poolViolations(pool)).toEqual([]);
  });

  it('cancelHandoffsOf cancels what a dead owner produced or was consuming', () => {
    const pool = BlockPool.create(geometry);
    const table = tableOf(pool, 2);
    const fromDead = pool.withOwner(2).openHandoff(table, { tokenCount: 2 });
    const toDead = pool.openHandoff(table, { tokenCount: 2 });
    const unrelated = pool.openHandoff(table, { tokenCount: 2 });
    if (fromDead === null || toDead === null || unrelated === null) throw new Error('no slot');
    pool.withOwner(2).acceptHandoff(toDead.descriptor);
    table.release();
    expect(pool.cancelHandoffsOf(2)).toBe(2);
    expect([fromDead.state, toDead.state, unrelated.state]).toEqual(['cancelled', 'cancelled', 'pending']);
    expect(pool.cancelHandoffsOf(3)).toBe(0);
    unrelated.cancel();
    expect(pool.stats().free).toBe(8);
    expect(poolViolations(pool)).toEqual([]);
  });

  it('rejects bad deadlines and clocks with typed errors', () => {
    const pool = BlockPool.create(geometry);
    const table = tableOf(pool, 2);
    expect(() => pool.openHandoff(table, { tokenCount: 2, deadlineMs: -1 })).toThrow(/deadlineMs must be a finite number/);
    expect(() => pool.openHandoff(table, { tokenCount: 2, deadlineMs: Number.NaN })).toThrow(KvArgumentError);
    expect(() => pool.sweepExpiredHandoffs(Number.NaN)).toThrow(/sweepExpiredHandoffs: now/);
    table.release();
    expect(pool.slots.freeCount()).toBe(3);
  });
});
