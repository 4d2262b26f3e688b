/**
 * Decode routing spreads a burst: requests assigned while they still prefill count against their
 * decode actor until its own load report can see them, and actors that share one KV pool (thread
 * placement) are told apart by their batches, so a burst does not pile onto the first actor by id.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '@baton/engine';
import { mixedPrompts } from '../support/reference.js';

let engine: Engine | null = null;
afterEach(async () => {
  await engine?.close({ deadlineMs: 0 });
  engine = null;
});

describe('decode routing under a burst', () => {
  it('gives every decode actor of a shared pool part of a burst', async () => {
    // 12 blocks of KV per request (40 + 120 tokens) out of 160: KV fill, the same for all three, outweighs batch fill.
    engine = await createEngine({ model: 'baton-tiny', backend: 'wasm', prefill: 1, decode: 3, kv: { blockSize: 16, numBlocks: 160 } });
    const e = engine;
    const prompts = mixedPrompts(9, 7, 40).map((p) => Array.from({ length: 40 }, (_, i) => p[i % p.length]));
    const results = await Promise.all(prompts.map((prompt) => e.generate({ prompt, maxTokens: 120, temperature: 0 }).result));
    for (const r of results) expect(r.finishReason).toBe('length');
    const decoders = (await e.stats()).actors.filter((a) => a.role === 'decode');
    expect(decoders).toHaveLength(3);
    for (const d of decoders) expect(d.tokensProcessed, `${d.name} served part of the burst`).toBeGreaterThan(0);
    expect((await e.stats()).pool.used).toBe(0);
  });
});
