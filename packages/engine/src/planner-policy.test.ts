import { describe, expect, it } from 'vitest';
import { defaultElastic, resolveElastic } from './elastic-options.js';
import type { ElasticView, ServingRole } from './elastic-protocol.js';
import { InvalidOptionsError } from './errors.js';
import { decideFlip, type PlannerInput } from './planner-policy.js';
import { SloWindow } from './slo-window.js';

const SLO = { ttftMs: 500, tpotMs: 50 };

interface ViewOver { queuedPromptTokens?: number; queuedRequests?: number; running?: number; stepMs?: number | null; kvUsage?: number; flipping?: number; base?: number }

function view(roles: ServingRole[], over: ViewOver = {}): ElasticView {
  return {
    instances: roles.map((role, index) => ({ index, role, flippingTo: over.flipping === index ? (role === 'prefill' ? 'decode' : 'prefill') : null, retiring: false })),
    baseInstances: over.base ?? roles.length,
    spawning: 0,
    firstTokens: [],
    prefill: { queuedRequests: over.queuedRequests ?? 0, queuedPromptTokens: over.queuedPromptTokens ?? 0, tokensPerSecond: 10_000 },
    decode: { queued: 0, running: over.running ?? 4, kvUsage: over.kvUsage ?? 0.2, stepMs: over.stepMs === undefined ? 10 : over.stepMs },
  };
}

function input(over: Partial<PlannerInput>): PlannerInput {
  return {
    nowMs: 100_000, ttftAttainment: 1, tpotAttainment: 1, view: view(['prefill', 'decode', 'decode']), slo: SLO, lastFlip: null, blocked: null,
    options: { ...defaultElastic(1, 2), mode: 'planner' }, ...over,
  };
}

/** A view with prompts queued (TTFT misses are then a prefill shortage) and big decode batches (TPOT misses a decode shortage). */
const busy = (roles: ServingRole[], over: ViewOver = {}): ElasticView => view(roles, { queuedRequests: 4, running: 12, ...over });

describe('decideFlip', () => {
  it('holds when both SLOs are met, and while a change is in progress', () => {
    expect(decideFlip(input({}))).toEqual({ kind: 'hold', reason: 'both SLOs met' });
    expect(decideFlip(input({ ttftAttainment: 0.5, view: busy(['prefill', 'decode', 'decode'], { flipping: 2 }) }))).toMatchObject({ kind: 'hold', reason: 'a change is in progress' });
  });

  it('flips a decode instance to prefill when TTFT misses with prompts queued and decode has room', () => {
    const v = decideFlip(input({ ttftAttainment: 0.6, tpotAttainment: 1, view: busy(['prefill', 'decode', 'decode'], { running: 2 }) }));
    expect(v).toMatchObject({ kind: 'flip', instance: 2, from: 'decode', to: 'prefill' });
    if (v.kind === 'flip') expect(v.reason).toMatch(/TTFT attainment 60% < 90% with 4 prompts queued/);
  });

  it('a miss another instance of that role would not cure is no shortage: no prompt queued, or a slow step at a small batch', () => {
    expect(decideFlip(input({ ttftAttainment: 0.6 }))).toMatchObject({ kind: 'hold', reason: expect.stringMatching(/TTFT attainment 60% < 90% with 0 prompts queued \(not a prefill shortage\)/) });
    expect(decideFlip(input({ tpotAttainment: 0.5, view: view(['prefill', 'prefill', 'decode'], { running: 2, stepMs: 80 }) }))).toMatchObject({ kind: 'hold', reason: expect.stringMatching(/at 2 sequences per decode instance \(not a decode shortage\)/) });
  });

  it('flips a prefill instance to decode when the decode step predicts a TPOT miss at a big batch, or KV is full', () => {
    const v = decideFlip(input({ view: view(['prefill', 'prefill', 'decode'], { stepMs: 80, running: 6 }) }));
    expect(v).toMatchObject({ kind: 'flip', instance: 1, from: 'prefill', to: 'decode' });
    if (v.kind === 'flip') expect(v.reason).toMatch(/decode step 80 ms > TPOT target 50 ms at 6 sequences per decode instance/);
    expect(decideFlip(input({ view: view(['prefill', 'prefill', 'decode'], { kvUsage: 0.95, stepMs: 5, running: 1 }) }))).toMatchObject({ kind: 'flip', to: 'decode' });
  });

  it('uses the prefill queue as a leading signal of TTFT misses (half the target)', () => {
    expect(decideFlip(input({ ttftAttainment: null, tpotAttainment: null, view: view(['prefill', 'decode', 'decode'], { queuedPromptTokens: 3_000 }) }))).toMatchObject({ kind: 'flip', to: 'prefill' });
    expect(decideFlip(input({ ttftAttainment: null, tpotAttainment: null, view: view(['prefill', 'decode', 'decode'], { queuedPromptTokens: 2_000 }) }))).toMatchObject({ kind: 'hold' });
  });

  it('hysteresis: takes no instance from a role below highAttainment, or one that would miss with one less', () => {
    expect(decideFlip(input({ ttftAttainment: 0.5, tpotAttainment: 0.92, view: busy(['prefill', 'decode', 'decode'], { running: 8 }) }))).toMatchObject({ kind: 'hold', reason: expect.stringMatching(/decode attainment 92% is below 95%/) });
    // Misses that are not the donor's own (a small decode batch; no prompt queued) do not hold its instance.
    expect(decideFlip(input({ ttftAttainment: 0.5, tpotAttainment: 0.92, view: busy(['prefill', 'decode', 'decode'], { running: 2 }) }))).toMatchObject({ kind: 'flip', to: 'prefill' });
    expect(decideFlip(input({ ttftAttainment: 0.8, view: view(['prefill', 'prefill', 'decode'], { stepMs: 80, running: 6 }) }))).toMatchObject({ kind: 'flip', from: 'prefill', to: 'decode' });
    expect(decideFlip(input({ ttftAttainment: 0.8, view: view(['prefill', 'prefill', 'decode'], { stepMs: 80, running: 6, queuedRequests: 1 }) }))).toMatchObject({ kind: 'hold', reason: expect.stringMatching(/prefill attainment 80% is below 95%/) });
    expect(decideFlip(input({ ttftAttainment: 0.5, view: busy(['prefill', 'decode', 'decode'], { running: 8, stepMs: 30 }) }))).toMatchObject({ kind: 'hold', reason: expect.stringMatching(/one decode instance less would step 60 ms/) });
    // A small batch's step is its fixed cost: one instance less (2 sequences on one instance) steps about the same.
    expect(decideFlip(input({ ttftAttainment: 0.5, view: busy(['prefill', 'decode', 'decode'], { running: 2, stepMs: 30 }) }))).toMatchObject({ kind: 'flip', to: 'prefill' });
    expect(decideFlip(input({ ttftAttainment: 0.5, view: busy(['prefill', 'decode', 'decode'], { running: 2, stepMs: 45 }) }))).toMatchObject({ kind: 'hold', reason: expect.stringMatching(/one decode instance less would step 45 ms/) });
  });

  it('holds when both roles are short or a bound stops the flip, and spawning is off', () => {
    expect(decideFlip(input({ ttftAttainment: 0.5, tpotAttainment: 0.5, view: busy(['prefill', 'decode', 'decode']) }))).toMatchObject({ kind: 'hold', reason: expect.stringMatching(/^both roles short/) });
    expect(decideFlip(input({ ttftAttainment: 0.5, view: busy(['prefill', 'decode'], { running: 2 }), options: { ...defaultElastic(1, 1), mode: 'planner' } }))).toMatchObject({ kind: 'hold', reason: expect.stringMatching(/decode is at its minimum of 1/) });
    const capped = { ...defaultElastic(1, 2), mode: 'planner' as const, maxPrefill: 1 };
    expect(decideFlip(input({ ttftAttainment: 0.5, view: busy(['prefill', 'decode', 'decode'], { running: 2 }), options: capped }))).toMatchObject({ kind: 'hold', reason: expect.stringMatching(/prefill is at its maximum of 1/) });
  });

  it('spawns for a short role no instance can be flipped to, within maxInstances and the role maximum', () => {
    const room = { ...defaultElastic(1, 1, 3), mode: 'planner' as const };
    const v = decideFlip(input({ ttftAttainment: 0.5, view: busy(['prefill', 'decode'], { running: 2 }), options: room }));
    expect(v).toMatchObject({ kind: 'spawn', role: 'prefill' });
    if (v.kind === 'spawn') expect(v.reason).toMatch(/prefill short \(TTFT attainment 50% < 90% with 4 prompts queued\) but decode is at its minimum of 1: spawn a prefill instance/);
    // Both short: for the role under more pressure (decode step 90/50 against a prefill queue of 400/500).
    expect(decideFlip(input({ ttftAttainment: 0.5, tpotAttainment: 0.5, view: busy(['prefill', 'decode'], { queuedPromptTokens: 4_000, stepMs: 90 }), options: room }))).toMatchObject({ kind: 'spawn', role: 'decode' });
    expect(decideFlip(input({ ttftAttainment: 0.5, view: busy(['prefill', 'decode', 'prefill'], { running: 2, base: 2 }), options: room }))).toMatchObject({ kind: 'hold', reason: expect.stringMatching(/instances at elastic.maxInstances \(3\)/) });
    const capped = { ...room, maxPrefill: 1 };
    expect(decideFlip(input({ ttftAttainment: 0.5, view: busy(['prefill', 'decode'], { running: 2 }), options: capped }))).toMatchObject({ kind: 'hold', reason: expect.stringMatching(/prefill is at its maximum of 1/) });
    expect(decideFlip(input({ ttftAttainment: 0.5, view: busy(['prefill', 'decode'], { running: 2 }), options: room, lastFlip: { atMs: 99_000, to: 'prefill', attainment: null } }))).toMatchObject({ kind: 'hold', reason: expect.stringMatching(/cooling down/) });
  });

  it('retires spawned capacity only when both SLOs hold with room and nothing changed for 4 x cooldown', () => {
    const room = { ...defaultElastic(1, 1, 3), mode: 'planner' as const };
    const grown = view(['prefill', 'decode', 'prefill'], { base: 2 });
    const long = { atMs: 90_000, to: 'prefill' as const, attainment: null };
    expect(decideFlip(input({ view: grown, options: room, lastFlip: long }))).toMatchObject({ kind: 'retire', instance: 2, from: 'prefill' });
    expect(decideFlip(input({ view: grown, options: room, lastFlip: { ...long, atMs: 95_000 } }))).toMatchObject({ kind: 'hold', reason: expect.stringMatching(/kept for 8000 ms after the last change/) });
    expect(decideFlip(input({ ttftAttainment: 0.93, view: grown, options: room, lastFlip: long }))).toMatchObject({ kind: 'hold', reason: expect.stringMatching(/kept until both attainments reach 95%/) });
    expect(decideFlip(input({ view: view(['prefill', 'decode', 'decode']), options: room, lastFlip: long }))).toEqual({ kind: 'hold', reason: 'both SLOs met' });
  });

  it('cooldown: no flip soon after the last one, twice as long for a flip back', () => {
    const short = { ttftAttainment: 0.5, view: busy(['prefill', 'decode', 'decode'], { running: 2 }) };
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
    // Both roles short (overloaded in every split): an undo would only move the backlog.
    expect(decideFlip(input({ ttftAttainment: 0.5, tpotAttainment: 0.7, view: view(roles, { queuedRequests: 4, queuedPromptTokens: 8_000 }), lastFlip }))).not.toMatchObject({ revert: true });
    // The donor misses but is not short (a slow step at a small batch): no undo either.
    expect(decideFlip(input({ ttftAttainment: 0.5, tpotAttainment: 0.7, view: view(roles, { running: 2 }), lastFlip }))).not.toMatchObject({ revert: true });
  });

  it('a blocked direction holds, and says for how long', () => {
    const short = { ttftAttainment: 0.5, view: busy(['prefill', 'decode', 'decode'], { running: 2 }) };
    expect(decideFlip(input({ ...short, blocked: { to: 'prefill', untilMs: 103_000 } }))).toMatchObject({ kind: 'hold', reason: expect.stringMatching(/flips to prefill are blocked for 3000 ms more/) });
    expect(decideFlip(input({ ...short, blocked: { to: 'prefill', untilMs: 99_000 } }))).toMatchObject({ kind: 'flip', to: 'prefill' });
  });

  it('does not oscillate: attainment wandering inside the hysteresis band never flips; alternating misses flip back at most once per 2 x cooldown', () => {
    const run = (ttftAt: (t: number) => number, tpotAt: (t: number) => number): Array<{ t: number; to: ServingRole }> => {
      let roles: ServingRole[] = ['prefill', 'prefill', 'decode', 'decode'];
      let last: PlannerInput['lastFlip'] = null;
      const at: Array<{ t: number; to: ServingRole }> = [];
      for (let t = 0; t < 20_000; t += 500) {
        const v = decideFlip(input({ nowMs: t, ttftAttainment: ttftAt(t), tpotAttainment: tpotAt(t), view: busy(roles, { running: 8 }), lastFlip: last, options: { ...defaultElastic(2, 2), mode: 'planner' } }));
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

  it('TTFTs at first token and TPOTs at the end count apart, in time order', () => {
    const w = new SloWindow({ windowMs: 1_000, minSamples: 2, slo: SLO });
    w.addTtft(100, 900);
    w.addTtft(50, 100);
    w.addTpot(120, 10);
    expect(w.attainment(200)).toEqual({ ttft: 0.5, tpot: null, samples: 2 });
    w.addMiss(150, 'tpot');
    expect(w.attainment(200).tpot).toBe(0.5);
    expect(w.attainment(1_060)).toEqual({ ttft: null, tpot: 0.5, samples: 2 });
  });
});

describe('resolveElastic', () => {
  it('defaults to fixed roles with bounds that keep one instance of each role', () => {
    expect(resolveElastic(undefined, 2, 2)).toMatchObject({ mode: 'fixed', policy: 'handover', minPrefill: 1, maxPrefill: 3, minDecode: 1, maxDecode: 3, maxInstances: 4 });
    expect(resolveElastic({ maxInstances: 6 }, 2, 2)).toMatchObject({ maxPrefill: 5, maxDecode: 5, maxInstances: 6 });
  });

  it('names the bad option', () => {
    expect(() => resolveElastic({ mode: 'auto' }, 1, 1)).toThrow(/elastic\.mode/);
    expect(() => resolveElastic({ policy: 'move' }, 1, 1)).toThrow(/elastic\.policy/);
    expect(() => resolveElastic({ minPrefill: 2 }, 1, 1)).toThrow(/elastic\.minPrefill.*starting prefill count/);
    expect(() => resolveElastic({ maxDecode: 1 }, 1, 2)).toThrow(/elastic\.maxDecode/);
    expect(() => resolveElastic({ maxInstances: 2 }, 1, 2)).toThrow(/elastic\.maxInstances.*starting instance count/);
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
