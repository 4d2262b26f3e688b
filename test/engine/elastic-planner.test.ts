/**
 * The planner adds capacity and gives it back: under a burst of long prompts that misses a tight
 * TTFT target while the only decode instance cannot be spared, it spawns a prefill instance (never
 * past `elastic.maxInstances` or the prefill maximum), the new instance prefills, every request
 * ends with the tokens of plain `generate`; once the engine is idle it retires the spawned
 * instance, whose actors stop, and every pool is back at its starting free count. Its decisions
 * and reasons are in `stats().planner`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '@baton/engine';
import { eventually } from '../support/eventually.js';
import { mixedPrompts } from '../support/reference.js';
import { expectPoolsFree, expectReference, poolsNow, streamAll } from '../support/flip-load.js';

const MODEL = 'baton-tiny';
let engine: Engine | null = null;
let sampler: NodeJS.Timeout | null = null;
afterEach(async () => {
  if (sampler !== null) clearInterval(sampler);
  sampler = null;
  await engine?.close({ deadlineMs: 0 });
  engine = null;
});

describe('planner spawning within bounds', () => {
  it('spawns a prefill instance for a prefill backlog, within the bounds; retires it when idle; nothing leaks', async () => {
    const e = await createEngine({
      model: MODEL, backend: 'wasm', prefill: 1, decode: 1, stallTimeoutMs: 30_000,
      health: { unhealthyAfterMs: 60_000, restartAfterMs: 120_000 },
      // NOTE: a TTFT target no burst of long prompts can meet on this model, so the prefill queue surely predicts misses.
      elastic: { mode: 'planner', maxInstances: 3, maxPrefill: 2, maxDecode: 1, slo: { ttftMs: 40, tpotMs: 60_000 }, intervalMs: 100, cooldownMs: 300, windowMs: 2_000, minSamples: 2 },
    });
    engine = e;
    const before = await poolsNow(e);
    let most = { instances: 0, prefill: 0 };
    sampler = setInterval(() => {
      void e.stats().then((s) => {
        const el = s.scheduler.elastic;
        if (el !== null) most = { instances: Math.max(most.instances, el.instances.length), prefill: Math.max(most.prefill, el.prefill) };
      }, () => undefined);
    }, 100);
    const burst = mixedPrompts(16, 303, 200);
    const first = streamAll(e, burst, 4, () => undefined);
    const spawned = await eventually(async () => (await e.stats()).scheduler.elastic?.scaling.find((s) => s.action === 'spawn'), { timeoutMs: 60_000, what: 'a spawn' });
    expect(spawned).toMatchObject({ action: 'spawn', instance: 2, role: 'prefill' });
    expect(spawned?.reason).toMatch(/^prefill short .* but decode is at its minimum of 1: spawn a prefill instance$/);
    // More long prompts while the new instance serves: both prefill instances take them.
    const more = mixedPrompts(12, 307, 200);
    const [a, b] = await Promise.all([first, streamAll(e, more, 4, () => undefined)]);
    await expectReference(MODEL, burst, 4, a);
    await expectReference(MODEL, more, 4, b);
    const served = await e.stats();
    expect(served.actors.find((s) => s.name === 'prefill-2')?.tokensProcessed ?? 0, 'the spawned instance prefilled').toBeGreaterThan(0);
    const decisions = served.planner?.decisions ?? [];
    expect(decisions.some((d) => d.from === null && d.to === 'prefill' && d.accepted)).toBe(true);
    // Idle: the spawned instance retires, its actors stop.
    const retired = await eventually(async () => (await e.stats()).scheduler.elastic?.scaling.find((s) => s.action === 'retire'), { timeoutMs: 60_000, what: 'a retirement' });
    expect(retired).toMatchObject({ action: 'retire', instance: 2, role: 'prefill' });
    await eventually(async () => (await e.stats()).actors.map((s) => s.name).sort().join(), { until: (n) => n === 'decode-0,decode-1,prefill-0,prefill-1', timeoutMs: 20_000, what: 'the retired actors stopped' });
    expect(most.instances, 'never past elastic.maxInstances').toBeLessThanOrEqual(3);
    expect(most.prefill, 'never past elastic.maxPrefill').toBeLessThanOrEqual(2);
    expect((await e.stats()).scheduler.elastic?.scaling.filter((s) => s.action === 'spawn').length, 'one spawn: the bounds left no room for more').toBe(1);
    await expectPoolsFree(e, before);
  });
});
