import { describe, expect, it } from 'vitest';
import { defaultElastic } from './elastic-options.js';
import { ElasticRoles } from './elastic-roles.js';

const options = { ...defaultElastic(2, 2), mode: 'manual' as const };

describe('ElasticRoles', () => {
  it('an instance serves one role, none while it flips; the flip completes when retired and nothing is placed there', () => {
    const r = new ElasticRoles(['prefill', 'prefill', 'decode', 'decode'], options);
    expect(r.begin(3, 'prefill', 'api', 100)).toBeNull();
    expect(r.serves('decode', 3)).toBe(false);
    expect(r.serves('prefill', 3)).toBe(false);
    expect(r.serving('decode')).toEqual([2]);
    expect(r.complete(3, false, 150)).toBeNull();
    r.retired('decode', 3);
    r.count(3, 'handedOver', 2);
    expect(r.complete(3, true, 160)).toBeNull();
    const change = r.complete(3, false, 180);
    expect(change?.kind).toBe('flip');
    expect(change?.record).toMatchObject({ instance: 3, from: 'decode', to: 'prefill', costMs: 80, handedOver: 2, reason: 'api' });
    expect(r.serves('prefill', 3)).toBe(true);
    expect(r.stats()).toMatchObject({ prefill: 3, decode: 1, completedFlips: 1 });
  });

  it('refuses a flip that breaks a bound, repeats a role, or races another flip of the same instance', () => {
    const r = new ElasticRoles(['prefill', 'prefill', 'decode', 'decode'], options);
    expect(r.begin(0, 'prefill', 'x', 0)).toMatch(/already serves prefill/);
    expect(r.begin(9, 'decode', 'x', 0)).toMatch(/does not exist/);
    expect(r.begin(2, 'prefill', 'x', 0)).toBeNull();
    expect(r.begin(2, 'prefill', 'x', 0)).toMatch(/already flipping/);
    expect(r.begin(3, 'prefill', 'x', 0)).toMatch(/decode would fall below its minimum of 1/);
    const capped = new ElasticRoles(['prefill', 'decode', 'decode'], { ...options, maxPrefill: 1 });
    expect(capped.begin(2, 'prefill', 'x', 0)).toMatch(/prefill would exceed its maximum of 1/);
  });

  it('a restarted actor of a flipping instance must say retired again', () => {
    const r = new ElasticRoles(['prefill', 'decode', 'decode'], options);
    r.begin(2, 'prefill', 'x', 0);
    r.retired('decode', 2);
    r.restarted(2);
    expect(r.complete(2, false, 10)).toBeNull();
    r.retired('prefill', 2);
    expect(r.complete(2, false, 10)).toBeNull();
    r.retired('decode', 2);
    expect(r.complete(2, false, 10)).not.toBeNull();
  });

  it('spawns take the next index within maxInstances and the role maximum, one at a time; a failed spawn gives its slot up', () => {
    const r = new ElasticRoles(['prefill', 'decode'], { ...defaultElastic(1, 1, 4), mode: 'manual', maxPrefill: 2 });
    const first = r.beginSpawn('prefill', 'api', 5);
    expect(first).toEqual({ instance: 2 });
    expect(r.beginSpawn('decode', 'api', 5)).toEqual({ refused: 'another instance is being spawned' });
    expect(r.serves('prefill', 2)).toBe(false);
    expect(r.stats().instances.map((i) => i.index)).toEqual([0, 1]);
    expect(r.added(2, 25)).toMatchObject({ action: 'spawn', instance: 2, role: 'prefill', decidedMs: 5, doneMs: 25 });
    expect(r.serving('prefill')).toEqual([0, 2]);
    expect(r.beginSpawn('prefill', 'api', 30)).toEqual({ refused: 'prefill would exceed its maximum of 2 instance(s)' });
    expect(r.beginSpawn('decode', 'api', 30)).toEqual({ instance: 3 });
    r.spawnFailed(3);
    expect(r.size).toBe(3);
    expect(r.beginSpawn('decode', 'api', 31)).toEqual({ instance: 3 });
    r.added(3, 40);
    expect(r.beginSpawn('decode', 'api', 41)).toEqual({ refused: 'instances would exceed elastic.maxInstances (4)' });
  });

  it('a retirement gives up the role like a flip, then the instance is gone for good (its index is not reused)', () => {
    const r = new ElasticRoles(['prefill', 'decode', 'decode'], options);
    expect(r.beginRetire(0, 'idle', 0)).toMatch(/prefill would fall below its minimum of 1/);
    expect(r.beginRetire(2, 'idle', 10)).toBeNull();
    expect(r.flipping(2)).toEqual({ from: 'decode', to: null });
    expect(r.stats().instances[2]).toEqual({ index: 2, role: 'decode', flippingTo: null, retiring: true });
    expect(r.begin(2, 'prefill', 'x', 11)).toMatch(/already retiring/);
    r.retired('decode', 2);
    const change = r.complete(2, false, 30);
    expect(change).toEqual({ kind: 'retire', record: { action: 'retire', instance: 2, role: 'decode', reason: 'idle', decidedMs: 10, doneMs: 30 } });
    expect(r.stats()).toMatchObject({ prefill: 1, decode: 1, completedFlips: 0 });
    expect(r.stats().instances.map((i) => i.index)).toEqual([0, 1]);
    expect(r.begin(2, 'prefill', 'x', 40)).toMatch(/instance 2 is retired/);
  });

  it('a snapshot restored into a new table gives the roles after flips, the changes in progress and the records', () => {
    const r = new ElasticRoles(['prefill', 'decode', 'decode'], options);
    r.begin(2, 'prefill', 'api', 0);
    r.retired('decode', 2);
    r.complete(2, false, 12);
    expect(r.begin(0, 'decode', 'api', 20)).toBeNull();
    const fresh = new ElasticRoles(['prefill', 'decode', 'decode'], options);
    fresh.restore(r.snapshot());
    expect(fresh.stats()).toEqual(r.stats());
    expect(fresh.stats().instances.map((i) => i.role)).toEqual(['prefill', 'decode', 'prefill']);
    expect(fresh.flipping(0)).toEqual({ from: 'prefill', to: 'decode' });
    // NOTE: the restored flip waits for the retiring actor to say so again.
    expect(fresh.complete(0, false, 30)).toBeNull();
    fresh.retired('prefill', 0);
    expect(fresh.complete(0, false, 30)?.record).toMatchObject({ instance: 0, from: 'prefill', to: 'decode', decidedMs: 20 });
  });
});
