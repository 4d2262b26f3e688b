/**
 * `engine.dropCaches()`: after multi-turn sessions end, every pool's free count returns to its
 * start once the caches are dropped — the hot pool (shared by threads, or one per child process),
 * the host tier and the disk tier's files of every actor — and the prompt tree is empty again
 * (it hears of the drops through the pools' evict events). A conversation going on after the drop
 * recomputes what it reused before, with the same greedy tokens. A drop while requests run keeps
 * the blocks they hold.
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createEngine, type Engine, type EngineOptionsInput, type EngineStats } from '@baton/engine';
import { eventually } from '../support/eventually.js';
import { mixedPrompts, referenceIds } from '../support/reference.js';

let engine: Engine | null = null;
afterEach(async () => {
  await engine?.close({ deadlineMs: 0 });
  engine = null;
});
const diskRoot = mkdtempSync(join(tmpdir(), 'baton-drop-caches-'));
afterAll(() => rmSync(diskRoot, { recursive: true, force: true }));

const MODEL = 'baton-tiny';
const OUT = 6;

/** Every file under `dir`, recursively. */
function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

const freeByPool = (s: EngineStats): Record<string, number> => Object.fromEntries(s.pools.map((p) => [p.name, p.stats.free]));

/**
 * Runs `sessions` conversations of `turns` turns in rounds (turn t of every session, one request at
 * a time, so other sessions push a session's blocks down the tiers), each turn checked against the
 * reference; returns the conversations.
 */
async function conversations(e: Engine, sessions: number, turns: number, seed: number, from: number[][] = []): Promise<number[][]> {
  const messages = mixedPrompts(sessions * turns, seed, 48);
  const contexts = Array.from({ length: sessions }, (_, s) => from[s] ?? []);
  for (let t = 0; t < turns; t++) {
    for (let s = 0; s < sessions; s++) {
      const prompt = [...contexts[s], ...messages[s * turns + t]];
      const r = await e.generate({ prompt, maxTokens: OUT, session: `s${s}` }).result;
      expect(r.ids, `session ${s} turn ${t}`).toEqual(await referenceIds(MODEL, prompt, OUT));
      contexts[s] = [...prompt, ...r.ids];
    }
  }
  return contexts;
}

describe('engine.dropCaches', () => {
  for (const [placement, extra] of [
    ['thread', {}],
    ['process', { routing: 'prompt-tree' }],
  ] as Array<[string, EngineOptionsInput]>) {
    it(`${placement} placement: free counts return to their start, every tier and the prompt tree empty; later turns recompute, same tokens`, async () => {
      const diskDir = mkdtempSync(join(diskRoot, `${placement}-`));
      // NOTE: small pools and a 4-block host tier: cached blocks reach the host and disk tiers too (the
      // longest turn, 3 x 48 + 12 tokens + its reply, still fits a 12-block pool).
      engine = await createEngine({
        model: MODEL, backend: 'wasm', mode: 'disaggregated', prefill: 2, decode: 1, placement: placement as 'thread' | 'process',
        kv: { numBlocks: placement === 'thread' ? 36 : 12 }, cache: { hostBlocks: 4, diskDir, diskMaxBytes: 64 << 20 }, ...extra,
      });
      const e = engine;
      const start = freeByPool(await e.stats());
      const contexts = await conversations(e, 3, 3, 71);
      const used = await e.stats();
      for (const p of used.pools) expect(p.stats.used, `pool ${p.name} unreferenced after the sessions`).toBe(0);
      expect(used.pools.reduce((n, p) => n + p.stats.cached, 0), 'cached blocks before the drop').toBeGreaterThan(0);
      expect(used.scheduler.promptTree.nodes, 'prompt tree before the drop').toBeGreaterThan(0);
      const lower = used.actors.reduce((n, a) => n + (a.tiers?.host.blocks ?? 0) + (a.tiers?.disk?.blocks ?? 0), 0);
      const result = await e.dropCaches();
      expect(result.skipped).toEqual([]);
      expect(result.actors.map((a) => a.actor).sort()).toEqual(used.actors.map((a) => a.name).sort());
      expect(result.dropped.host + result.dropped.disk, 'lower-tier blocks dropped').toBe(lower);
      const after = await eventually(() => e.stats(), { until: (s) => s.scheduler.promptTree.nodes === 0, what: 'the prompt tree emptied by the evict events' });
      expect(freeByPool(after), 'every pool\'s free count back at its start').toEqual(start);
      for (const p of after.pools) expect([p.name, p.stats.cached, p.stats.indexed]).toEqual([p.name, 0, 0]);
      for (const a of after.actors) expect([a.name, a.tiers?.host.blocks ?? 0, a.tiers?.disk?.blocks ?? 0]).toEqual([a.name, 0, 0]);
      expect(files(diskDir).filter((f) => f.endsWith('.kvb')), 'block files left on disk').toEqual([]);
      // The conversations go on: what they reused before is recomputed, tokens unchanged.
      await conversations(e, 3, 1, 73, contexts);
      const again = await e.stats();
      for (const p of again.pools) expect(p.stats.used, `pool ${p.name}`).toBe(0);
    }, 300_000);
  }

  it('a drop while requests run keeps the blocks they hold: they finish with the reference tokens', async () => {
    engine = await createEngine({ model: MODEL, backend: 'wasm', mode: 'disaggregated', prefill: 1, decode: 1, kv: { numBlocks: 64 } });
    const e = engine;
    const prompts = mixedPrompts(4, 79, 60);
    const running = prompts.map((prompt) => e.generate({ prompt, maxTokens: 24 }).result);
    const drops = [await e.dropCaches(), await e.dropCaches()];
    const results = await Promise.all(running);
    for (const [i, r] of results.entries()) expect(r.ids, `request ${i}`).toEqual(await referenceIds(MODEL, prompts[i], 24));
    for (const d of drops) expect(d.skipped).toEqual([]);
    await e.dropCaches();
    const s = await e.stats();
    for (const p of s.pools) expect([p.name, p.stats.free]).toEqual([p.name, p.stats.total]);
  }, 120_000);
});
