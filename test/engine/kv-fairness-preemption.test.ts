/**
 * Preemption under a full KV pool bounds a short request's wait, and a preempted stream is not
 * taken for a stalled one. Six long greedy streams outgrow a 48-block pool, so the decode actor
 * keeps preempting and recomputing them; short requests that arrive in that churn are never the
 * victim (it needs only a few more blocks to finish), so it completes before the long streams
 * produce more tokens than its own length allows — it used to be preempted as the youngest and
 * wait behind long sequences that could not get their KV back. The long streams wait for KV far
 * longer than the stall timeout without being retried or failed, and every stream keeps its
 * reference tokens; no block stays in use.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '@baton/engine';
import { mixedPrompts, referenceIds } from '../support/reference.js';
import { eventually } from '../support/eventually.js';

let engine: Engine | null = null;
afterEach(async () => {
  await engine?.close({ deadlineMs: 0 });
  engine = null;
});

const LONGS = 6;
const LONG_MAX = 400;
const SHORT_MAX = 32;
const SHORTS = 4;

describe('preemption under a full KV pool', () => {
  it('never makes a short request wait for the long ones, and a stream waiting for KV is not stalled', { timeout: 300_000 }, async () => {
    // 48 blocks of 16 tokens; each long stream ends at 432 tokens (27 blocks), six of them need 162.
    // NOTE: a stall timeout far below how long a preempted stream waits for its KV in this churn.
    engine = await createEngine({ model: 'baton-tiny', backend: 'wasm', prefill: 1, decode: 1, kv: { blockSize: 16, numBlocks: 48 }, stallTimeoutMs: 500 });
    const e = engine;
    const longPrompts = mixedPrompts(LONGS, 7, 90).map((p) => Array.from({ length: 32 }, (_, i) => p[i % p.length]));
    let longTokens = 0;
    const longRuns = longPrompts.map(async (prompt) => {
      const g = e.generate({ prompt, maxTokens: LONG_MAX });
      for await (const ev of g) if (ev.type === 'token') longTokens += 1;
      return g.result;
    });
    await eventually(async () => (await e.stats()).actors.some((a) => a.role === 'decode' && a.preemptions > 0), { what: 'the pool full and a long stream preempted', timeoutMs: 240_000, intervalMs: 5 });

    // Short requests one after another through the churn: each is measured on its own.
    const shorts: { prompt: number[]; ids: number[] }[] = [];
    for (const [k, shortPrompt] of mixedPrompts(SHORTS, 11, 6).entries()) {
      const short = e.generate({ prompt: shortPrompt, maxTokens: SHORT_MAX });
      let seen = 0;
      let atDecode = -1;
      for await (const ev of short) {
        if (ev.type !== 'token') continue;
        seen += 1;
        // From its second token on, the short request is in the decode batch with the long ones.
        if (seen === 2) atDecode = longTokens;
      }
      const longDuring = longTokens - atDecode;
      const shortResult = await short.result;
      expect(shortResult.finishReason, `short ${k}`).toBe('length');
      shorts.push({ prompt: shortPrompt, ids: shortResult.ids });
      // One token per running stream per step: never preempted, a short request decodes for SHORT_MAX - 1 steps.
      expect(longDuring, `long-stream tokens produced while short ${k} decoded`).toBeLessThanOrEqual(LONGS * SHORT_MAX);
    }
    expect(longTokens, 'the long streams still ran when the last short request ended').toBeLessThan(LONGS * LONG_MAX);
    for (const [k, r] of shorts.entries()) expect(r.ids, `short ${k}`).toEqual(await referenceIds('baton-tiny', r.prompt, SHORT_MAX));

    const results = await Promise.all(longRuns);
    for (const [i, r] of results.entries()) {
      expect(r.finishReason, `long ${i}`).toBe('length');
      expect(r.ids, `long ${i}`).toEqual(await referenceIds('baton-tiny', longPrompts[i], LONG_MAX));
    }
    const stats = await e.stats();
    expect(stats.actors.find((a) => a.role === 'decode')?.preemptions, 'the long streams were preempted').toBeGreaterThan(0);
    expect(stats.retried, 'no stream waiting for KV was retried as stalled').toBe(0);
    expect(stats.pool.used).toBe(0);
  });
});
