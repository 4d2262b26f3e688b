import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { generateWorkload } from '@baton/bench';
import { parseProfile, readProfile } from './profile.js';
import { ProfileError } from './sim-errors.js';
import { constantStepTimes, interp, profileStepTimes } from './step-times.js';
import { defaultCandidate, goodputOf, searchPlacement } from './plan-search.js';
import { poissonArrivals } from './poisson-arrivals.js';

const shipped = fileURLToPath(new URL('../profiles/h200-host-cpu16-baton-tiny-wasm.json', import.meta.url));

describe('profiles', () => {
  it('reads the shipped profiles and interpolates between measured points', () => {
    const p = readProfile(shipped);
    const t = profileStepTimes(p);
    const at256 = p.prefill.find((q) => q.tokens === 256 && q.prefix === 0)!.ms;
    expect(t.prefillMs(256, 0)).toBeCloseTo(at256, 9);
    expect(t.prefillMs(200, 0)).toBeGreaterThan(t.prefillMs(128, 0));
    expect(t.prefillMs(128, 512)).toBeGreaterThan(t.prefillMs(128, 0));
    const d = p.decode.find((q) => q.batch === 8 && q.context === 256)!.ms;
    expect(t.decodeMs(8, 8 * 256)).toBeCloseTo(d, 9);
    for (const name of ['cpu2-baton-tiny-wasm', 'cpu2-baton-8x512-wasm']) {
      expect(() => readProfile(fileURLToPath(new URL(`../profiles/${name}.json`, import.meta.url)))).not.toThrow();
    }
  });

  it('names the first bad field of a malformed profile', () => {
    const good = JSON.parse(readFileSync(shipped, 'utf8')) as Record<string, unknown>;
    expect(() => parseProfile({ ...good, format: 'x' })).toThrow(ProfileError);
    expect(() => parseProfile({ ...good, decode: [{ batch: 1, context: 32, ms: -1 }] })).toThrow(/decode\[0\]\.ms/);
    expect(() => parseProfile({ ...good, decode: (good.decode as unknown[]).slice(1) })).toThrow(/grid is missing/);
    expect(() => readProfile('/nonexistent/profile.json')).toThrow(/cannot read/);
  });

  it('interpolates and extrapolates linearly', () => {
    expect(interp([1, 3], [10, 30], 2)).toBe(20);
    expect(interp([1, 3], [10, 30], 5)).toBe(50);
    expect(interp([1, 2, 4], [1, 2, 8], 3)).toBe(5);
  });
});

describe('placement search', () => {
  const times = constantStepTimes({ prefillFixedMs: 5, prefillMsPerToken: 0.25, decodeFixedMs: 4, decodeMsPerSeq: 0.4, hopMs: 0.05, schedulerUs: 20 });
  const requests = generateWorkload({ mix: 'chat', count: 80, seed: 4 }).requests;
  const slo = { ttftMs: 600, tpotMs: 12 };

  it('is deterministic and never ranks a configuration below the default it also simulated', () => {
    const opts = { times, requests, slo, devices: 3, chunkSizes: [256], tokenBudgets: [512], maxBatches: [8, 32] };
    const a = searchPlacement(opts);
    const b = searchPlacement(opts);
    expect(a.map((r) => [r.candidate, r.goodput])).toEqual(b.map((r) => [r.candidate, r.goodput]));
    const base = goodputOf(defaultCandidate(3), opts);
    expect(a[0].goodputPerDevice).toBeGreaterThanOrEqual(base.goodputPerDevice);
    expect(a[0].attainment).toBeGreaterThanOrEqual(0.9);
    expect(a.some((r) => r.candidate.mode === 'disaggregated' && r.candidate.prefill === 2)).toBe(true);
  });
});

describe('poissonArrivals', () => {
  it('streams a seeded Poisson process at the asked rate', () => {
    const shapes = [{ promptIds: [1, 2, 3], maxTokens: 4 }];
    const take = (): number[] => {
      const src = poissonArrivals({ rate: 50, durationMs: 200_000, shapes, seed: 3 });
      const out: number[] = [];
      for (let a = src.next(); a !== null; a = src.next()) out.push(a.arrivalMs);
      return out;
    };
    const ts = take();
    expect(ts).toEqual(take());
    expect(Math.abs(ts.length - 10_000) / 10_000).toBeLessThan(0.05);
  });
});
