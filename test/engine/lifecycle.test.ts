/**
 * Request lifecycle across threads: abort (signal, consumer leaving early, stop strings) frees the
 * request's KV at once; a KV pool too small for the load makes decode preempt and recompute, and
 * the tokens are still exactly the reference's; close() aborts what is left after its deadline.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createEngine, EngineClosedError, type Engine } from '@baton/engine';
import { eventually } from '../support/eventually.js';
import { mixedPrompts, referenceIds } from '../support/reference.js';

let engine: Engine | null = null;
afterEach(async () => {
  await engine?.close({ deadlineMs: 0 });
  engine = null;
});

describe.each(['disaggregated', 'colocated', 'chunked'] as const)('%s', (mode) => {
  it('aborting requests mid-stream ends them with "abort" and leaves no KV blocks in use', async () => {
    engine = await createEngine({ mode, prefill: 1, decode: 1, colocated: 1, model: 'baton-tiny', backend: 'wasm' });
    const controllers = Array.from({ length: 6 }, () => new AbortController());
    const gens = controllers.map((c, i) => engine!.generate({ prompt: `request number ${i} `.repeat(3), maxTokens: 200, signal: c.signal }));
    // Abort half once they have produced a few tokens; stop iterating one of the others early.
    const consume = gens.map(async (g, i) => {
      let n = 0;
      for await (const ev of g) {
        if (ev.type !== 'token') continue;
        n += 1;
        if (i % 2 === 0 && n === 3) controllers[i].abort();
        if (i === 1 && n === 5) break;
      }
    });
    await Promise.allSettled(consume);
    const results = await Promise.allSettled(gens.map((g) => g.result));
    for (const i of [0, 2, 4]) {
      expect(results[i].status).toBe('fulfilled');
      if (results[i].status === 'fulfilled') expect(results[i].value.finishReason).toBe('abort');
    }
    expect(results[1].status).toBe('rejected');
    // NOTE: the actors free KV asynchronously after an abort, so poll stats until it is all back.
    const e = engine;
    const s = await eventually(() => e.stats(), { until: (st) => st.pool.used === 0 && st.active === 0, what: 'no KV block in use' });
    expect(s.pool.used).toBe(0);
  });
});

describe('KV pressure', () => {
  it('preempts and recomputes when the pool runs out, with tokens equal to the reference', async () => {
    // 24 blocks of 8 tokens: far less than 8 requests x (prompt + 40 tokens) need at once.
    engine = await createEngine({ mode: 'disaggregated', model: 'baton-tiny', backend: 'wasm', kv: { blockSize: 8, numBlocks: 24 } });
    const prompts = mixedPrompts(8, 3, 40);
    const results = await Promise.all(prompts.map((prompt) => engine!.generate({ prompt, maxTokens: 40 }).result));
    for (const [i, r] of results.entries()) expect(r.ids, `request ${i}`).toEqual(await referenceIds('baton-tiny', prompts[i], 40));
    const s = await engine.stats();
    expect(s.actors.reduce((n, a) => n + a.preemptions, 0)).toBeGreaterThan(0);
    expect(s.pool.used).toBe(0);
  });
});

describe('stop conditions and close', () => {
  it('stops on a stop string (text cut before it) and on stop token ids', async () => {
    engine = await createEngine({ mode: 'disaggregated', model: 'baton-tiny', backend: 'wasm' });
    const free = await engine.generate({ prompt: 'stop here', maxTokens: 12 }).result;
    const stopId = free.ids[5];
    const byId = await engine.generate({ prompt: 'stop here', maxTokens: 12, stop: [stopId] }).result;
    expect(byId.finishReason).toBe('stop');
    expect(byId.ids).toEqual(free.ids.slice(0, free.ids.indexOf(stopId) + 1));
    const stopText = String.fromCharCode(free.ids[4]);
    const byText = await engine.generate({ prompt: 'stop here', maxTokens: 12, stop: [stopText] }).result;
    expect(byText.finishReason).toBe('stop');
    expect(byText.text.includes(stopText)).toBe(false);
  });

  it('close() aborts requests still running after its deadline and refuses new ones', async () => {
    engine = await createEngine({ mode: 'colocated', colocated: 1, model: 'baton-tiny', backend: 'wasm' });
    const g = engine.generate({ prompt: 'a long one', maxTokens: 1000 });
    await g[Symbol.asyncIterator]().next();
    const e = engine;
    engine = null;
    const closing = e.close({ deadlineMs: 50 });
    expect(() => e.generate({ prompt: 'late', maxTokens: 2 })).toThrow(EngineClosedError);
    await closing;
    const r = await g.result;
    expect(r.finishReason).toBe('abort');
    expect(r.ids.length).toBeGreaterThan(0);
    expect(r.ids.length).toBeLessThan(1000);
  });
});
