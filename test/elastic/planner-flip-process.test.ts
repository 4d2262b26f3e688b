/**
 * The planner flipping instances by itself, on process placement (an instance is one child
 * process holding a prefill and a decode actor): under a burst of long prompts that misses a tight
 * TTFT target while decode has room, it flips the highest-numbered decode instance to prefill
 * (no spawn: `elastic.maxInstances` is P + D), the flipped process then prefills, every request
 * ends with the tokens of plain `generate`, streamed once each, and no pool keeps a block. The
 * decision and its reason are in `stats().planner`, the flip with its cost in
 * `stats().scheduler.elastic.flips`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '@baton/engine';
import { eventually } from '../support/eventually.js';
import { expectPoolsFree, expectReference, poolsNow, streamAll } from '../support/flip-load.js';
import { mixedPrompts } from '../support/reference.js';

const MODEL = 'baton-tiny';
let engine: Engine | null = null;
afterEach(async () => {
  await engine?.close({ deadlineMs: 0 });
  engine = null;
});

describe('planner flips on process placement', () => {
  it('flips a decode process to prefill for a prefill backlog; tokens equal plain generate; nothing leaks', async () => {
    const e = await createEngine({
      model: MODEL, backend: 'wasm', prefill: 1, decode: 2, placement: 'process', stallTimeoutMs: 30_000,
      health: { unhealthyAfterMs: 60_000, restartAfterMs: 120_000 },
      // NOTE: a TTFT target no burst of long prompts can meet on this model (the prefill queue surely predicts misses), and a
      // TPOT target every decode step meets (decode has room to give).
      elastic: { mode: 'planner', slo: { ttftMs: 40, tpotMs: 60_000 }, intervalMs: 100, cooldownMs: 300, windowMs: 2_000, minSamples: 2 },
    });
    engine = e;
    const before = await poolsNow(e);
    const burst = mixedPrompts(16, 311, 200);
    const first = streamAll(e, burst, 4, () => undefined);
    const flip = await eventually(async () => (await e.stats()).scheduler.elastic?.flips[0], { timeoutMs: 60_000, what: 'a planner flip' });
    expect(flip).toMatchObject({ instance: 2, from: 'decode', to: 'prefill' });
    expect(flip?.reason).toMatch(/prefill queue .* ms > 50% of TTFT target 40 ms; decode has room|TTFT attainment .* with .* prompts queued; decode has room/);
    expect(flip?.costMs ?? -1).toBeGreaterThanOrEqual(0);
    const more = mixedPrompts(12, 313, 200);
    const [a, b] = await Promise.all([first, streamAll(e, more, 4, () => undefined)]);
    await expectReference(MODEL, burst, 4, a);
    await expectReference(MODEL, more, 4, b);
    const s = await e.stats();
    expect(s.scheduler.elastic?.scaling ?? [], 'no spawn within maxInstances = P + D').toEqual([]);
    expect(s.scheduler.elastic?.instances.length).toBe(3);
    expect(s.actors.find((x) => x.name === 'prefill-2')?.tokensProcessed ?? 0, 'the flipped process prefilled').toBeGreaterThan(0);
    expect(s.actors.find((x) => x.name === 'prefill-2')?.pid).toBe(s.actors.find((x) => x.name === 'decode-2')?.pid);
    const decided = s.planner?.decisions.find((d) => d.from === 'decode' && d.to === 'prefill');
    expect(decided).toMatchObject({ accepted: true });
    await expectPoolsFree(e, before);
  });
});
