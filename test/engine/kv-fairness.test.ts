/**
 * A full KV pool does not starve short requests: while long greedy streams hold the pool and a
 * long prompt waits for KV at the head of the prefill queue, a short request that arrives later is
 * prefilled past it (and a decode actor preempts sequences — the policy's victims — when a prompt waits too
 * long) and finishes while the long streams still run; every stream keeps its reference tokens;
 * no block stays in use.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '@baton/engine';
import { mixedPrompts, referenceIds } from '../support/reference.js';

let engine: Engine | null = null;
afterEach(async () => {
  await engine?.close({ deadlineMs: 0 });
  engine = null;
});

describe('short requests behind a full KV pool', () => {
  it('pass a long prompt that waits for KV, and finish while every long stream still runs; all keep their reference tokens', async () => {
    // 48 blocks of 16 tokens: two 320-token prompts take 40; a third cannot be prefilled until blocks free up.
    engine = await createEngine({ model: 'baton-tiny', backend: 'wasm', prefill: 1, decode: 1, kv: { blockSize: 16, numBlocks: 48 } });
    const e = engine;
    const longPrompts = mixedPrompts(3, 41, 90).map((p) => Array.from({ length: 320 }, (_, i) => p[i % p.length]));
    let longDone = 0;
    let started = 0;
    let twoStarted: () => void = () => undefined;
    const twoDecoding = new Promise<void>((resolve) => (twoStarted = resolve));
    // NOTE: the short request goes in the moment the second long stream has its first token (from its
    // event stream, not by polling stats), so the long streams are ~120 decode steps from their end
    // however slowly a loaded runner polls; the third long prompt is still waiting for KV then.
    const longRuns = longPrompts.map(async (prompt) => {
      const g = e.generate({ prompt, maxTokens: 120 });
      let first = true;
      for await (const ev of g) {
        if (ev.type === 'token' && first) {
          first = false;
          started += 1;
          if (started === 2) twoStarted();
        }
      }
      const r = await g.result;
      longDone += 1;
      return r;
    });
    await twoDecoding;
    const shortPrompt = [72, 101, 108, 108, 111];
    const short = await e.generate({ prompt: shortPrompt, maxTokens: 4 }).result;
    expect(short.finishReason).toBe('length');
    expect(longDone, 'long streams finished before the short request').toBe(0);
    expect(short.ids).toEqual(await referenceIds('baton-tiny', shortPrompt, 4));
    const results = await Promise.all(longRuns);
    for (const [i, r] of results.entries()) {
      expect(r.finishReason, `long ${i}`).toBe('length');
      expect(r.ids, `long ${i}`).toEqual(await referenceIds('baton-tiny', longPrompts[i], 120));
    }
    expect((await e.stats()).pool.used).toBe(0);
  });
});
