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
    const record = r.complete(3, false, 180);
    expect(record).toMatchObject({ instance: 3, from: 'decode', to: 'prefill', costMs: 80, handedOver: 2, reason: 'api' });
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
});
