/**
 * A serving actor whose thread (or process) freezes — the `freeze` fault blocks it in
 * `Atomics.wait` mid-step, so it answers nothing, like a deadlocked worker — while eight greedy
 * streams run. Heartbeats declare it unhealthy, its requests resume on its sibling with exactly
 * the reference tokens, and once `health.restartAfterMs` passes its host is ended (the thread by
 * `Worker.terminate()`, the process by SIGKILL) and its supervisor starts it again: it answers
 * stats and is routed to again; new requests complete. No KV block stays in use.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createEngine, type Engine, type EngineOptionsInput } from '@baton/engine';
import { eventually } from '../support/eventually.js';
import { mixedPrompts, referenceIds } from '../support/reference.js';

let engine: Engine | null = null;
afterEach(async () => {
  await engine?.close({ deadlineMs: 0 });
  engine = null;
});

const MAX_TOKENS = 64;

async function activityOf(e: Engine, actor: string): Promise<string> {
  return (await e.stats()).actors.find((a) => a.name === actor)?.activity ?? 'missing';
}

describe.each(['thread', 'process'] as const)('a decode actor frozen on its %s', (placement) => {
  it('is routed around, its requests resume with the reference tokens, and it is restarted and routed to again', { timeout: 180_000 }, async () => {
    const options: EngineOptionsInput = {
      model: 'baton-tiny', backend: 'wasm', mode: 'disaggregated', prefill: 1, decode: 2, placement,
      health: { intervalMs: 100, unhealthyAfterMs: 1_500, restartAfterMs: 1_500 },
      faults: { crashes: [{ role: 'decode', index: 0, afterSteps: 6, kind: 'freeze' }] },
    };
    engine = await createEngine(options);
    const e = engine;
    const pidBefore = (await e.stats()).actors.find((a) => a.name === 'decode-0')?.pid;
    const prompts = mixedPrompts(8, 47, 80);
    const results = await Promise.all(prompts.map((prompt) => e.generate({ prompt, maxTokens: MAX_TOKENS }).result));
    for (const [i, r] of results.entries()) {
      expect(r.finishReason, `request ${i}: ${r.error?.message ?? ''}`).toBe('length');
      expect(r.ids, `request ${i}`).toEqual(await referenceIds('baton-tiny', prompts[i], MAX_TOKENS));
    }
    const during = await e.stats();
    expect(during.retried, 'requests resumed elsewhere').toBeGreaterThan(0);
    // The frozen actor is replaced: a new incarnation answers heartbeats and stats again.
    await eventually(async () => (await activityOf(e, 'decode-0')) !== 'unresponsive', { what: 'decode-0 restarted and answering', timeoutMs: 60_000 });
    await eventually(async () => !(await e.stats()).scheduler.down.includes('decode-0'), { what: 'decode-0 routed to again', timeoutMs: 30_000 });
    if (placement === 'process') expect((await e.stats()).actors.find((a) => a.name === 'decode-0')?.pid).not.toBe(pidBefore);
    // NOTE: which decode actor new requests go to is the scheduler's choice; they all complete.
    const again = mixedPrompts(6, 5, 30);
    const after = await Promise.all(again.map((prompt) => e.generate({ prompt, maxTokens: 8 }).result));
    for (const [i, r] of after.entries()) expect(r.ids, `after ${i}`).toEqual(await referenceIds('baton-tiny', again[i], 8));
    const end = await e.stats();
    expect(end.actors.find((a) => a.name === 'decode-0')?.activity).not.toBe('unresponsive');
    for (const p of end.pools) expect(p.stats.used, `pool ${p.name}`).toBe(0);
  });
});
