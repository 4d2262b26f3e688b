/**
 * Context caching across requests and instances: multi-turn conversations (each turn's prompt =
 * the conversation so far + a new message) give exactly the greedy tokens of the plain generate
 * whatever caching does — prefixes reused from the hot pool, swapped back in from the host or
 * disk tier (under prefill, decode and colocated actors), or shared by threads of one pool — and
 * every pool's blocks are back once the sessions end. Transfers between processes and stale trees:
 * context-caching-transfer.test.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createEngine, type Engine, type EngineOptionsInput } from '@baton/engine';
import { mixedPrompts, referenceIds } from '../support/reference.js';

let engine: Engine | null = null;
afterEach(async () => {
  await engine?.close({ deadlineMs: 0 });
  engine = null;
});
const diskDir = mkdtempSync(join(tmpdir(), 'baton-ctx-test-'));
afterAll(() => rmSync(diskDir, { recursive: true, force: true }));

const MODEL = 'baton-tiny';
const TURNS = 3;
const OUT = 6;

/**
 * Runs `sessions` conversations of TURNS turns and checks each turn against the reference:
 * concurrently across sessions, or in rounds (turn t of every session, one request at a time,
 * so the other sessions' turns push a session's blocks down the tiers before its next turn).
 */
async function conversations(options: EngineOptionsInput, sessions: number, order: 'concurrent' | 'rounds' = 'concurrent'): Promise<void> {
  engine = await createEngine({ model: MODEL, backend: 'wasm', mode: 'disaggregated', ...options });
  const messages = mixedPrompts(sessions * TURNS, 31, 48);
  const contexts: number[][] = Array.from({ length: sessions }, () => []);
  const turn = async (s: number, t: number): Promise<void> => {
    const prompt = [...contexts[s], ...messages[s * TURNS + t]];
    const r = await engine!.generate({ prompt, maxTokens: OUT, session: `s${s}` }).result;
    expect(r.ids, `session ${s} turn ${t}`).toEqual(await referenceIds(MODEL, prompt, OUT));
    contexts[s] = [...prompt, ...r.ids];
  };
  if (order === 'rounds') {
    for (let t = 0; t < TURNS; t++) for (let s = 0; s < sessions; s++) await turn(s, t);
  } else {
    await Promise.all(Array.from({ length: sessions }, async (_, s) => {
      for (let t = 0; t < TURNS; t++) await turn(s, t);
    }));
  }
  const stats = await engine.stats();
  for (const p of stats.pools) expect(p.stats.used, `pool ${p.name}`).toBe(0);
  expect(stats.completed).toBe(sessions * TURNS);
}

describe('multi-turn context caching keeps greedy tokens identical', () => {
  it('prompt-tree routing across prefill processes, host and disk tiers under a small pool', async () => {
    // NOTE: 12 blocks of 16 tokens per pool: four conversations overflow a prefill's hot pool, so
    // blocks go down to host (4) and disk; the longest turn (3 x 48 + 12 tokens) still fits decode's pool.
    await conversations({
      prefill: 2, decode: 1, placement: 'process', kv: { numBlocks: 12 }, routing: 'prompt-tree',
      cache: { hostBlocks: 4, diskDir, diskMaxBytes: 64 << 20 },
    }, 4, 'rounds');
    const stats = await engine!.stats();
    expect(stats.scheduler.routing).toBe('prompt-tree');
    expect(stats.scheduler.creditedTokens, 'the tree credited cached prefixes').toBeGreaterThan(0);
    const tiers = stats.actors.filter((a) => a.role === 'prefill').map((a) => a.tiers);
    expect(tiers.every((t) => t !== null)).toBe(true);
    const swappedOut = tiers.reduce((n, t) => n + (t?.swappedOut ?? 0), 0);
    const lowerHits = tiers.reduce((n, t) => n + (t?.host.hits ?? 0) + (t?.disk?.hits ?? 0), 0);
    expect(swappedOut, 'blocks moved down a tier').toBeGreaterThan(0);
    expect(lowerHits, 'a later turn reused swapped-out blocks').toBeGreaterThan(0);
    // NOTE: the decode actor has a pool of its own in its process, so it keeps lower tiers too.
    expect(stats.actors.find((a) => a.role === 'decode')?.tiers?.host.capacity).toBe(4);
  }, 300_000);

  it('a colocated actor keeps host and disk tiers too: swapped-out prefixes come back with identical tokens', async () => {
    await conversations({ mode: 'colocated', colocated: 1, kv: { numBlocks: 14 }, cache: { hostBlocks: 4, diskDir, diskMaxBytes: 64 << 20 } }, 4, 'rounds');
    const tiers = (await engine!.stats()).actors.find((a) => a.role === 'colocated')?.tiers;
    expect(tiers?.swappedOut ?? 0, 'blocks moved down a tier').toBeGreaterThan(0);
    expect((tiers?.host.hits ?? 0) + (tiers?.disk?.hits ?? 0), 'a later turn reused swapped-out blocks').toBeGreaterThan(0);
  }, 300_000);

  it('threads sharing one pool: every actor reports its view\'s events (the decode actor\'s finished turns too), tokens identical', async () => {
    await conversations({ prefill: 2, decode: 1, kv: { numBlocks: 40 }, routing: 'prompt-tree' }, 3);
  }, 300_000);

  for (const [name, options] of [
    ['session routing', { routing: 'session' }],
    ['least-load routing', { routing: 'least-load' }],
    ['no caching', { cache: { enabled: false } }],
  ] as Array<[string, EngineOptionsInput]>) {
    it(`${name} gives the same tokens (prefill processes)`, async () => {
      await conversations({ prefill: 2, decode: 1, placement: 'process', ...options }, 2);
      const stats = await engine!.stats();
      if (options.cache?.enabled === false || options.routing === 'least-load') expect(stats.scheduler.creditedTokens).toBe(0);
    }, 300_000);
  }
});
