import { describe, expect, it } from 'vitest';
import { defaultElastic, resolveElastic } from './elastic-options.js';
import type { ElasticView, ServingRole } from './elastic-protocol.js';
import { InvalidOptionsError } from './errors.js';
import { decideFlip, type PlannerInput } from './planner-policy.js';
import { SloWindow } from './slo-window.js';

const SLO = { ttftMs: 500, tpotMs: 50 };

function view(roles: ServingRole[], over: { queuedPromptTokens?: number; stepMs?: number | null; kvUsage?: number; flipping?: number } = {}): ElasticView {
  return {
    instances: roles.map((role, index) => ({ index, role, flippingTo: over.flipping === index ? (role === 'prefill' ? 'decode' : 'prefill') : null })),
    prefill: { queuedRequests: 0, queuedPromptTokens: over.queuedPromptTokens ?? 0, tokensPerSecond: 10_000 },
    decode: { queued: 0, running: 4, kvUsage: over.kvUsage ?? 0.2, stepMs: over.stepMs === undefined ? 10 : over.stepMs },
  };
}

function input(over: Partial<PlannerInput>): PlannerInput {
  return {
    nowMs: 100_000, ttftAttainment: 1, tpotAttainment: 1, view: view(['prefill', 'decode', 'decode']), slo: SLO, lastFlip: null, blocked: null,
    options: { ...defaultElastic(1, 2), mode: 'planner' }, ...over,
  };
}

describe('decideFlip', () => {
  it('holds when both SLOs are met, and while a flip is in progress', () => {
    expect(decideFlip(input({}))).toEqual({ kind: 'hold', reason: 'both SLOs met' });
    expect(decideFlip(input({ ttftAttainment: 0.5, view: view(['prefill', 'decode', 'decode'], { flipping: 2 }) }))).toMatchObject({ kind: 'hold', reason: 'a flip is in progress' });
  });

  it('flips a decode instance to prefill when TTFT misses and decode has room', () => {
    const v = decideFlip(input({ ttftAttainment: 0.6, tpotAttainment: 1 }));
    expect(v).toMatchObject({ kind: 'flip', instance: 2, from: 'decode', to: 'prefill' });
    if (v.kind === 'flip') expect(v.reason).toMatch(/TTFT attainment 60% < 90%/);
  });

  it('flips a prefill instance to decode when the decode step predicts a TPOT miss', () => {
    const v = decideFlip(input({ view: view(['prefill', 'prefill', 'decode'], { stepMs: 80 }) }));
    expect(v).toMatchObject({ kind: 'flip', instance: 1, from: 'prefill', to: 'decode' });
    if (v.kind === 'flip') expect(v.reason).toMatch(/decode step 80 ms > TPOT target 50 ms/);
    expect(decideFlip(input({ view: view(['prefill', 'prefill', 'decode'], { kvUsage: 0.95, stepMs: 5 }) }))).toMatchObject({ kind: 'flip', to: 'decode' });
  });

  it('uses the prefill queue as a leading signal of TTFT misses', () => {
    expect(decideFlip(input({ ttftAttainment: null, tpotAttainment: null, view: view(['prefill', 'decode', 'decode'], { queuedPromptTokens: 8_000 }) }))).toMatchObject({ kind: 'flip', to: 'prefill' });
  });

  it('hysteresis: takes no instance from a role below highAttainment, or one that would miss with one less', () => {
    expect(decideFlip(input({ ttftAttainment: 0.5, tpotAttainment: 0.92 }))).toMatchObject({ kind: 'hold', reason: expect.stringMatching(/decode attainment 92% is below 95%/) });
    expect(decideFlip(input({ ttftAttainment: 0.5, view: view(['prefill', 'decode', 'decode'], { stepMs: 30 }) }))).toMatchObject({ kind: 'hold', reason: expect.stringMatching(/one decode instance less would step 60 ms/) });
  });

  it('holds when both roles are short, or a bound stops the flip', () => {
    expect(decideFlip(input({ ttftAttainment: 0.5, tpotAttainment: 0.5 }))).toMatchObject({ kind: 'hold', reason: expect.stringMatching(/^both roles short/) });
    expect(decideFlip(input({ ttftAttainment: 0.5, view: view(['prefill', 'decode']) }))).toMatchObject({ kind: 'hold', reason: expect.stringMatching(/decode is at its minimum of 1/) });
    const capped = { ...defaultElastic(1, 2), mode: 'planner' as const, maxPrefill: 1 };
    expect(decideFlip(input({ ttftAttainment: 0.5, options: capped }))).toMatchObject({ kind: 'hold', reason: expect.stringMatching(/prefill is at its maximum of 1/) });
  });

  it('cooldown: no flip soon after the last one, twice as long for a flip back', () => {
    const short = { ttftAttainment: 0.5 };
    expect(decideFlip(input({ ...short, lastFlip: { atMs: 99_000, to: 'prefill', attainment: null } }))).toMatchObject({ kind: 'hold', reason: expect.stringMatching(/cooling down \(1000 of 2000 ms/) });
    expect(decideFlip(input({ ...short, lastFlip: { atMs: 97_500, to: 'prefill', attainment: null } }))).toMatchObject({ kind: 'flip' });
    expect(decideFlip(input({ ...short, lastFlip: { atMs: 97_500, to: 'decode', attainment: null } }))).toMatchObject({ kind: 'hold', reason: expect.stringMatching(/of 4000 ms/) });
  });

  it('undoes a flip that did not help while its donor role now misses, and says so', () => {
    const lastFlip = { atMs: 97_000, to: 'prefill' as const, attainment: 0.67 };
    const roles: ServingRole[] = ['prefill', 'decode', 'prefill'];
    const v = decideFlip(input({ ttftAttainment: 0.5, tpotAttainment: 0.7, view: view(roles), lastFlip }));
    expect(v).toMatchObject({ kind: 'flip', instance: 2, from: 'prefill', to: 'decode', revert: true });
    if (v.kind === 'flip') expect(v.reason).toMatch(/the flip to prefill did not help \(TTFT attainment 50%, was 67%\) and decode now misses \(70%\)/);
    // It helped (TTFT up 20 points), or the donor still meets its SLO, or too soon: no undo.
    expect(decideFlip(input({ ttftAttainment: 0.87, tpotAttainment: 0.7, view: view(roles), lastFlip }))).not.toMatchObject({ revert: true });
    expect(decideFlip(input({ ttftAttainment: 0.5, tpotAttainment: 0.97, view: view(roles), lastFlip }))).not.toMatchObject({ revert: true });
    expect(decideFlip(input({ nowMs: 98_000, ttftAttainment: 0.5, tpotAttainment: 0.7, view: view(roles), lastFlip }))).not.toMatchObject({ revert: true });
  });

  it('a blocked direction holds, and says for how long', () => {
    expect(decideFlip(input({ ttftAttainment: 0.5, blocked: { to: 'prefill', untilMs: 103_000 } }))).toMatchObject({ kind: 'hold', reason: expect.stringMatching(/flips to prefill are blocked for 3000 ms more/) });
    expect(decideFlip(input({ ttftAttainment: 0.5, blocked: { to: 'prefill', untilMs: 99_000 } }))).toMatchObject({ kind: 'flip', to: 'prefill' });
  });

  it('does not oscillate: attainment wandering inside the hysteresis band never flips; alternating misses flip back at most once per 2 x cooldown', () => {
    const run = (ttftAt: (t: number) => number, tpotAt: (t: number) => number): Array<{ t: number; to: ServingRole }> => {
      let roles: ServingRole[] = ['prefill', 'prefill', 'decode', 'decode'];
      let last: PlannerInput['lastFlip'] = null;
      const at: Array<{ t: number; to: ServingRole }> = [];
      for (let t = 0; t < 20_000; t += 500) {
        const v = decideFlip(input({ nowMs: t, ttftAttainment: ttftAt(t), tpotAttainment: tpotAt(t), view: view(roles), lastFlip: last, options: { ...defaultElastic(2, 2), mode: 'planner' } }));
        if (v.kind !== 'flip') continue;
        at.push({ t, to: v.to });
        roles = roles.map((r, i) => (i === v.instance ? v.to : r));
        last = { atMs: t, to: v.to, attainment: null };
      }
      return at;
    };
    expect(run((t) => (t % 1000 === 0 ? 0.91 : 0.94), (t) => (t % 1000 === 0 ? 0.94 : 0.91))).toEqual([]);
    const flips = run((t) => (t % 1000 === 0 ? 0.5 : 1), (t) => (t % 1000 === 0 ? 1 : 0.5));
    expect(flips.length).toBeGreaterThan(0);
    for (let i = 1; i < flips.length; i++) {
      expect(flips[i].t - flips[i - 1].t).toBeGreaterThanOrEqual(2_000);
      if (flips[i].to !== flips[i - 1].to) expect(flips[i].t - flips[i - 1].t, 'a flip back').toBeGreaterThanOrEqual(4_000);
    }
  });
});

describe('SloWindow', () => {
  it('attainment over the window, null below minSamples, forgets samples before a cut', () => {
    const w = new SloWindow({ windowMs: 1_000, minSamples: 2, slo: SLO });
    w.add(0, 100, 10);
    expect(w.attainment(10)).toEqual({ ttft: null, tpot: null, samples: 1 });
    w.add(100, 900, 80);
    w.add(200, 100, null);
    expect(w.attainment(300)).toEqual({ ttft: 2 / 3, tpot: 0.5, samples: 3 });
    expect(w.attainment(1_150).samples).toBe(1);
    w.add(1_200, 100, 10);
    w.cut(1_200);
    expect(w.attainment(1_250)).toEqual({ ttft: null, tpot: null, samples: 1 });
  });
});

describe('resolveElastic', () => {
  it('defaults to fixed roles with bounds that keep one instance of each role', () => {
    expect(resolveElastic(undefined, 2, 2)).toMatchObject({ mode: 'fixed', policy: 'handover', minPrefill: 1, maxPrefill: 3, minDecode: 1, maxDecode: 3 });
  });

  it('names the bad option', () => {
    expect(() => resolveElastic({ mode: 'auto' }, 1, 1)).toThrow(/elastic\.mode/);
    expect(() => resolveElastic({ policy: 'move' }, 1, 1)).toThrow(/elastic\.policy/);
    expect(() => resolveElastic({ minPrefill: 2 }, 1, 1)).toThrow(/elastic\.minPrefill.*starting prefill count/);
    expect(() => resolveElastic({ maxDecode: 1 }, 1, 2)).toThrow(/elastic\.maxDecode/);
    expect(() => resolveElastic({ lowAttainment: 1.5 }, 1, 1)).toThrow(/elastic\.lowAttainment/);
    expect(() => resolveElastic({ lowAttainment: 0.9, highAttainment: 0.8 }, 1, 1)).toThrow(/elastic\.highAttainment.*hysteresis/);
    expect(() => resolveElastic({ windowMs: 0 }, 1, 1)).toThrow(InvalidOptionsError);
    expect(() => resolveElastic({ every: 1 }, 1, 1)).toThrow(/elastic\.every/);
    expect(() => resolveElastic('planner', 1, 1)).toThrow(/elastic/);
    expect(resolveElastic({ slo: { ttftMs: 500, tpotMs: 40 } }, 1, 1).slo).toEqual({ ttftMs: 500, tpotMs: 40 });
    expect(() => resolveElastic({ slo: { ttftMs: 0, tpotMs: 40 } }, 1, 1)).toThrow(/elastic\.slo\.ttftMs/);
    expect(() => resolveElastic({ slo: { ttft: 1 } }, 1, 1)).toThrow(/elastic\.slo\.ttft/);
  });
});
