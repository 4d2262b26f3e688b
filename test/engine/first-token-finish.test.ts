/**
 * Requests that end at their first token (maxTokens 1) in disaggregated serving: the prefill actor
 * produces the only token, so no decode actor is needed. Whether the scheduler's decode choice
 * reaches the prefill actor before or after the request finished, the prompt's KV blocks go back
 * to the pool and no prefilled prompt is left waiting for a decode placement.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '@baton/engine';

const REQUESTS = 400;
const CONCURRENCY = 96;

let engine: Engine | null = null;
afterEach(async () => {
  await engine?.close({ deadlineMs: 0 });
  engine = null;
});

/** Seeded token-id prompts of 20–50 tokens (2–3 KV blocks of 16), all different. */
function prompts(): number[][] {
  let s = 7;
  const next = (): number => (s = (s * 1_103_515_245 + 12_345) % 2 ** 31);
  return Array.from({ length: REQUESTS }, () => Array.from({ length: 20 + (next() % 31) }, () => next() % 256));
}

describe('requests that finish at their first token (disaggregated)', () => {
  it('leave no KV blocks in use and nothing waiting in the prefill actor', { timeout: 120_000 }, async () => {
    engine = await createEngine({ model: 'baton-tiny', backend: 'wasm', mode: 'disaggregated', prefill: 1, decode: 2, queue: { maxWaitMs: null } });
    const e = engine;
    const all = prompts();
    let next = 0;
    const reasons: string[] = [];
    const client = async (): Promise<void> => {
      while (next < all.length) {
        const prompt = all[next++];
        reasons.push((await e.generate({ prompt, maxTokens: 1 }).result).finishReason);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, client));
    expect(reasons.filter((r) => r !== 'length' && r !== 'stop')).toEqual([]);

    // NOTE: actors release KV asynchronously after a request ends, so poll until it is back (bounded).
    let stats = await e.stats();
    for (let i = 0; i < 250 && !(stats.pool.used === 0 && stats.actors.every((a) => a.running === 0 && a.kvBlocksUsed === 0 && a.queueLength === 0)); i++) {
      await new Promise((r) => setTimeout(r, 20));
      stats = await e.stats();
    }
    expect(stats.active).toBe(0);
    expect(stats.pool.used).toBe(0);
    for (const a of stats.actors) expect({ actor: a.name, kv: a.kvBlocksUsed, running: a.running, queued: a.queueLength }).toEqual({ actor: a.name, kv: 0, running: 0, queued: 0 });
  });
});
