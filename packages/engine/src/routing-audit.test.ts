import { describe, expect, it } from 'vitest';
import { RoutingAudit } from './routing-audit.js';

const estimate = (target: number, queueMs: number, busyActors = 1) => ({ target, queueMs, transferMs: 5, prefillMs: 20, busyActors });

describe('RoutingAudit', () => {
  it('adds each measured request to its actor and to its band of measured TTFT; forgotten and unmeasured requests count nowhere', () => {
    const audit = new RoutingAudit();
    audit.routed('a', estimate(0, 10));
    audit.routed('b', estimate(2, 100, 3));
    audit.routed('c', estimate(2, 0));
    audit.routed('d', estimate(1, 0));
    audit.measured('a', 40);
    audit.measured('b', 900);
    audit.measured('b', 5_000);
    audit.forget('c');
    audit.measured('c', 10);
    audit.measured('unknown', 10);
    const s = audit.stats();
    expect(s.perActor.map((t) => t.requests)).toEqual([1, 0, 1]);
    expect(s.perActor[2]).toEqual({ requests: 1, measuredMs: 900, expectedMs: 125, expectedQueueMs: 100, busyActors: 3 });
    const bands = Object.fromEntries(s.byTtft.map((b) => [String(b.upToMs), b.totals.requests]));
    expect(bands).toEqual({ 50: 1, 100: 0, 200: 0, 500: 0, 1000: 1, 2000: 0, null: 0 });
    audit.routed('e', estimate(0, 0));
    audit.measured('e', 2_500);
    expect(audit.stats().byTtft.at(-1)?.totals).toEqual({ requests: 1, measuredMs: 2_500, expectedMs: 25, expectedQueueMs: 0, busyActors: 1 });
    // NOTE: snapshots are copies: a later measurement does not change an earlier one.
    expect(s.perActor[0].requests).toBe(1);
  });
});
