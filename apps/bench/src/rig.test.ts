import { describe, expect, it } from 'vitest';
import { BENCH_HEALTH, BENCH_QUEUE, benchEngineOptions, freshContent } from './rig.js';

describe('rig', () => {
  it('bench engines tolerate a minute of heartbeat silence (long prefills on a loaded machine), unless the spec says otherwise', () => {
    const o = benchEngineOptions({ mode: 'colocated', colocated: 2 });
    expect(o.health).toEqual(BENCH_HEALTH);
    expect(o.health?.unhealthyAfterMs).toBeGreaterThanOrEqual(60_000);
    expect(o.mode).toBe('colocated');
    expect(benchEngineOptions({ health: { unhealthyAfterMs: 2_000 } }).health).toEqual({ ...BENCH_HEALTH, unhealthyAfterMs: 2_000 });
  });

  it('bench engines never refuse a request for waiting long, and give a KV handoff a minute, unless the spec says otherwise', () => {
    const o = benchEngineOptions({ mode: 'disaggregated' });
    expect(o.queue?.maxWaitMs).toBeNull();
    expect(o.handoffTimeoutMs).toBe(BENCH_QUEUE.handoffTimeoutMs);
    const own = benchEngineOptions({ queue: { maxWaitMs: 3_000, maxRequests: 8 }, handoffTimeoutMs: 1_000 });
    expect(own.queue).toEqual({ maxWaitMs: 3_000, maxRequests: 8 });
    expect(own.handoffTimeoutMs).toBe(1_000);
  });

  it('freshContent shifts every token, keeping lengths and timing', () => {
    const r = [{ index: 0, arrivalMs: 5, promptIds: [0, 255, 10], maxTokens: 3 }];
    const f = freshContent(r, 1);
    expect(f[0].promptIds).toEqual([2, 1, 12]);
    expect(f[0].arrivalMs).toBe(5);
  });
});
