import { describe, expect, it } from 'vitest';
import { ActorStatsAggregator } from './actor-stats.js';

describe('ActorStatsAggregator', () => {
  it('computes utilization as busy time over wall time since the first report', () => {
    const a = new ActorStatsAggregator({ windowMs: 1000 });
    a.gauges('decode-0', { queueLength: 0, kvBlocksUsed: 0, kvBlocksTotal: 100 }, 0);
    a.busy('decode-0', 0, 100);
    a.busy('decode-0', 200, 300);
    expect(a.snapshotOf('decode-0', 400)!.utilization).toBeCloseTo(0.5);
  });

  it('uses a sliding window and merges overlapping reports', () => {
    const a = new ActorStatsAggregator({ windowMs: 100 });
    a.busy('p', 0, 50);
    a.busy('p', 40, 60); // overlaps: merged to [0, 60]
    a.busy('p', 150, 200);
    // window [100, 200]: only [150, 200] counts
    expect(a.snapshotOf('p', 200)!.utilization).toBeCloseTo(0.5);
    // window [0, 60] before pruning would have been 1.0, never above
    const b = new ActorStatsAggregator({ windowMs: 100 });
    b.busy('q', 0, 60);
    b.busy('q', 10, 30);
    expect(b.snapshotOf('q', 60)!.utilization).toBe(1);
  });

  it('tracks batch sizes and gauges per actor, ordered by id', () => {
    const a = new ActorStatsAggregator({ maxBatch: 8 });
    for (const s of [1, 2, 3, 8]) a.batch('decode-1', s, 0);
    a.gauges('decode-1', { queueLength: 5, kvBlocksUsed: 12, kvBlocksTotal: 64 }, 0);
    a.gauges('decode-1', { queueLength: 2, kvBlocksUsed: 10, kvBlocksTotal: 64 }, 1);
    a.gauges('decode-0', { queueLength: 1, kvBlocksUsed: null, kvBlocksTotal: null }, 0);
    const [d0, d1] = a.snapshot(10);
    expect(d0.actorId).toBe('decode-0');
    expect(d1).toMatchObject({ actorId: 'decode-1', queueLength: 2, maxQueueLength: 5, kvBlocksUsed: 10, meanBatchSize: 3.5 });
    expect(d1.batchSizes.count).toBe(4);
    expect(d1.batchSizes.bounds).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    a.remove('decode-1');
    expect(a.snapshotOf('decode-1', 10)).toBeNull();
  });

  it('refuses a busy interval that ends before it starts', () => {
    expect(() => new ActorStatsAggregator().busy('x', 5, 4)).toThrow(/ends \(4\) before it starts \(5\)/);
  });
});
