/**
 * Context caching across processes: a turn's KV finished on a decode actor in another process
 * goes back to its prefill actor (decode returns KV, transfer-with-insert), Mooncake's transfer
 * rule moves a cached prefix from the instance holding it to a less loaded one, and a prompt tree
 * that went stale (the blocks' disk files were damaged behind its back) only costs a recompute.
 * Greedy tokens always equal the plain generate, and every pool's blocks are unreferenced
 * (free or cached) once the sessions end.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createEngine, type Engine, type EngineOptionsInput, type EngineStats } from '@baton/engine';
import { eventually } from '../support/eventually.js';
import { MODEL, blockFiles, damage, expectPoolsUnreferenced, sized, turn } from './context-cache-support.js';

let engine: Engine | null = null;
afterEach(async () => {
  await engine?.close({ deadlineMs: 0 });
  engine = null;
});
const diskRoot = mkdtempSync(join(tmpdir(), 'baton-ctx-transfer-'));
afterAll(() => rmSync(diskRoot, { recursive: true, force: true }));

async function start(options: EngineOptionsInput): Promise<Engine> {
  engine = await createEngine({ model: MODEL, backend: 'wasm', mode: 'disaggregated', decode: 1, placement: 'process', routing: 'prompt-tree', ...options });
  return engine;
}

/** Prompt tokens the prefill actors computed. */
const computed = (stats: EngineStats): number => stats.actors.filter((a) => a.role === 'prefill').reduce((n, a) => n + a.tokensProcessed, 0);

/** Blocks indexed in the pool of the (only) actor of `role`. */
const indexed = (stats: EngineStats, role: 'prefill' | 'decode'): number => stats.actors.find((a) => a.role === role)?.tiers?.hot.indexed ?? 0;

describe('context caching across processes', () => {
  it('decode returns a finished turn\'s KV to its prefill process: the next turn reuses the reply, tokens unchanged', async () => {
    const messages = Array.from({ length: 6 }, (_, i) => sized(41 + i, 40));
    const spent: number[] = [];
    // NOTE: session routing moves nothing between instances, so only the decode actor's return differs.
    for (const returnFromDecode of [false, true]) {
      const e = await start({ prefill: 1, routing: 'session', cache: { returnFromDecode } });
      for (let s = 0; s < 2; s++) {
        let context: number[] = [];
        // NOTE: 24-token replies cross a block boundary every turn, so the returned KV holds blocks the prefill never computed.
        for (let t = 0; t < 3; t++) {
          context = await turn(e, [...context, ...messages[s * 3 + t]], `return ${returnFromDecode} session ${s} turn ${t}`, 24);
          // NOTE: the returned KV travels while the client hears of the finish; a user's think time
          // covers that, here the test waits until the prefill pool indexes every block the decode pool does.
          if (returnFromDecode) await eventually(() => e.stats(), { until: (st) => indexed(st, 'prefill') >= indexed(st, 'decode'), what: 'returned blocks indexed by the prefill pool' });
        }
      }
      const stats = await e.stats();
      expectPoolsUnreferenced(stats);
      spent.push(computed(stats));
      await e.close({ deadlineMs: 0 });
      engine = null;
    }
    // NOTE: without the return, every turn recomputes the previous reply (and the partial block before it).
    expect(spent[1], 'prompt tokens computed with the decode return vs without').toBeLessThan(spent[0]);
  }, 300_000);

  it('without the return, prompt-tree routing pulls the reply from the decode process (a remote match by transfer)', async () => {
    const e = await start({ prefill: 1, cache: { returnFromDecode: false } });
    let context: number[] = [];
    for (let t = 0; t < 4; t++) {
      context = await turn(e, [...context, ...sized(51 + t, 40)], `turn ${t}`, 24);
      await eventually(() => e.stats(), { until: (st) => st.scheduler.promptTree.perInstance[1] >= indexed(st, 'decode'), what: 'the decode pool\'s blocks in the prompt tree' });
    }
    const stats = await e.stats();
    expect(stats.scheduler.prefixTransfers.asked, 'transfers asked of the decode actor').toBeGreaterThan(0);
    expect(stats.scheduler.prefixTransfers.arrivedTokens).toBeGreaterThan(0);
    expectPoolsUnreferenced(stats);
  }, 300_000);

  it('Mooncake\'s rule moves a cached prefix to the idle prefill process instead of queueing behind its holder', async () => {
    const e = await start({ prefill: 2 });
    // NOTE: warm both prefill actors, so each one's throughput is measured (not the prior) before routing weighs it.
    await Promise.all([0, 1, 2, 3].map((i) => e.generate({ prompt: sized(90 + i, 48), maxTokens: 2 }).result));
    const history = await turn(e, sized(43, 64), 'first turn');
    const [a, b] = [sized(44, 160), sized(45, 160)];
    // NOTE: two follow-ups at once: the first goes to the prefix's holder and queues its long suffix
    // there; for the second, moving the prefix to the other (idle) instance beats waiting.
    await Promise.all([turn(e, [...history, ...a], 'follow-up a'), turn(e, [...history, ...b], 'follow-up b')]);
    const stats = await e.stats();
    expect(stats.scheduler.prefixTransfers.asked, 'transfers asked').toBeGreaterThan(0);
    expect(stats.scheduler.prefixTransfers.arrivedTokens, 'tokens of KV moved').toBeGreaterThan(0);
    expectPoolsUnreferenced(stats);
  }, 300_000);

  it('a stale tree (disk files damaged behind its back) costs a recompute, never a wrong token', async () => {
    const diskDir = mkdtempSync(join(diskRoot, 'stale-'));
    // NOTE: 12-block pools, no host tier: a 10-block prompt pushes every cached block to disk.
    const e = await start({ prefill: 1, kv: { numBlocks: 12 }, cache: { hostBlocks: 0, diskDir, diskMaxBytes: 64 << 20, returnFromDecode: false } });
    const history = await turn(e, sized(47, 64), 'first turn');
    await turn(e, sized(48, 160), 'filler');
    const next = sized(49, 40);
    const before = await e.stats();
    expect(before.actors.find((a) => a.role === 'prefill')?.tiers?.disk?.blocks ?? 0, 'blocks on disk').toBeGreaterThan(0);
    damage(blockFiles(diskDir), 'truncated');
    await turn(e, [...history, ...next], 'turn after the damage');
    const stats = await e.stats();
    const tiers = stats.actors.find((a) => a.role === 'prefill')?.tiers;
    expect(tiers?.disk?.corrupt ?? 0, 'damaged block files found and refused').toBeGreaterThan(0);
    expectPoolsUnreferenced(stats);
  }, 300_000);
});
