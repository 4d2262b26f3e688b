/**
 * Context caching where the prompt tree is wrong, in every placement: threads sharing one pool
 * and child processes with pools of their own (disaggregated, and colocated actors each with
 * tiers of their own). The tree only hears of what the pools say, so its entries go stale when
 * block files are damaged behind its back (bits flipped, files cut, every other file cut, or one
 * block mid-prefix), when the instance it would pull a prefix from holds less than it claims, or
 * when an instance restarts with an empty pool. Each case must cost a recompute, never a wrong
 * token: every turn equals the plain greedy generate. Damaged files are misses (counted as
 * corrupt, never served); an intact prefix swapped in from host or disk and moved to another
 * process gives the same tokens. Afterwards `dropCaches` brings every pool's free count back to
 * its start and empties the tree and the disk tier; model tensors do not grow.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createEngine, type Engine, type EngineOptionsInput, type EngineStats } from '@baton/engine';
import { prefixKeys } from '@baton/kv-cache';
import { eventually } from '../support/eventually.js';
import { pidAlive } from '../support/processes.js';
import {
  BLOCK_SIZE, MODEL, blockFiles, damage, expectPoolsUnreferenced, freeByPool, poolDirHolding, sized, tensorsByActor, tierSum, turn, type Damage,
} from './context-cache-support.js';

let engine: Engine | null = null;
afterEach(async () => {
  await engine?.close({ deadlineMs: 0 });
  engine = null;
});
const diskRoot = mkdtempSync(join(tmpdir(), 'baton-ctx-placements-'));
afterAll(() => rmSync(diskRoot, { recursive: true, force: true }));

type Placement = 'thread' | 'process';

/**
 * One prefill and one decode actor, prompt-tree routing, 12-block pools and no host tier: an
 * 11-block filler pushes an earlier turn's cached blocks (all but one) to disk.
 */
async function start(placement: Placement, diskDir: string, extra: EngineOptionsInput = {}): Promise<Engine> {
  engine = await createEngine({
    model: MODEL, backend: 'wasm', mode: 'disaggregated', prefill: 1, decode: 1, placement, routing: 'prompt-tree',
    kv: { numBlocks: 12 }, cache: { hostBlocks: 0, diskDir, diskMaxBytes: 64 << 20, returnFromDecode: false }, ...extra,
  });
  return engine;
}

/** Drops every cache; checks free counts are back at `startFree`, the tree and the disk tier empty. */
async function expectDropsToStart(e: Engine, startFree: Record<string, number>, diskDir: string): Promise<EngineStats> {
  const result = await e.dropCaches();
  expect(result.skipped).toEqual([]);
  const after = await eventually(() => e.stats(), { until: (s) => s.scheduler.promptTree.nodes === 0, what: 'the prompt tree emptied by the evict events' });
  expect(freeByPool(after), 'every pool\'s free count back at its start').toEqual(startFree);
  for (const a of after.actors) expect([a.name, a.tiers?.host.blocks ?? 0, a.tiers?.disk?.blocks ?? 0]).toEqual([a.name, 0, 0]);
  expect(blockFiles(diskDir), 'block files left on disk').toEqual([]);
  return after;
}

/** Prefill actor stats of the (only) actor of `role`. */
const actorOf = (s: EngineStats, role: 'prefill' | 'decode') => s.actors.find((a) => a.role === role);

describe('a stale tree after disk damage costs a recompute, never a wrong token', () => {
  for (const placement of ['thread', 'process'] as const) {
    for (const how of ['corrupt', 'every-other'] as const satisfies readonly Damage[]) {
      it(`${placement} placement, ${how} block files: misses, reference tokens; drops bring every pool back to its start`, async () => {
        const diskDir = mkdtempSync(join(diskRoot, `${placement}-${how}-`));
        const e = await start(placement, diskDir);
        const startFree = freeByPool(await e.stats());
        const history = await turn(e, sized(47, 64), 'first turn');
        // NOTE: 168 tokens (+6 generated) fit the 11 blocks prefill allocates, so decode allocates none: with
        // threads sharing the pool, an eviction through decode's view (no lower tiers) would drop a block.
        await turn(e, sized(48, 168), 'filler');
        await eventually(() => e.stats(), { until: (s) => tierSum(s, (t) => t.disk?.blocks ?? 0) > 0, what: 'cached blocks on disk' });
        const before = await e.stats();
        const tensors = tensorsByActor(before);
        const creditedBefore = before.scheduler.creditedTokens;
        // NOTE: files are written asynchronously; wait for every block the tiers count to be on disk.
        await eventually(async () => blockFiles(diskDir).length, { until: (n) => n >= tierSum(before, (t) => t.disk?.blocks ?? 0), what: 'block files written' });
        expect(damage(blockFiles(diskDir), how), 'files damaged').toBeGreaterThan(0);
        const next = await turn(e, [...history, ...sized(49, 40)], 'turn after the damage');
        const stats = await e.stats();
        expect(stats.scheduler.creditedTokens, 'the tree still credited the damaged prefix').toBeGreaterThan(creditedBefore);
        expect(tierSum(stats, (t) => t.disk?.corrupt ?? 0), 'damaged files found and refused').toBeGreaterThan(0);
        // The conversation goes on from what was recomputed.
        await turn(e, [...next, ...sized(50, 24)], 'the turn after');
        const end = await e.stats();
        expectPoolsUnreferenced(end);
        expect(tensorsByActor(end), 'model tensors per actor').toEqual(tensors);
        await expectDropsToStart(e, startFree, diskDir);
      }, 120_000);
    }
  }
});

describe('process placement: a prefix broken mid-way on disk', () => {
  it('blocks before the break are reused from disk, the damaged one and those after it recomputed; reference tokens; drops empty the tree', async () => {
    const diskDir = mkdtempSync(join(diskRoot, 'mid-'));
    // NOTE: an 8-block host tier: two 11-block fillers push the first turn's 4 blocks down to disk;
    // blocks read past the break go back to host (and are recomputed by the turn all the same).
    const e = await start('process', diskDir, { cache: { hostBlocks: 8, diskDir, diskMaxBytes: 64 << 20, returnFromDecode: false } });
    const startFree = freeByPool(await e.stats());
    const history = await turn(e, sized(71, 64), 'first turn');
    await turn(e, sized(72, 168), 'filler 1');
    await turn(e, sized(73, 168), 'filler 2');
    const keys = prefixKeys(history, BLOCK_SIZE);
    const onDisk = (k: string): string[] => blockFiles(diskDir).filter((f) => basename(f) === `${k}.kvb`);
    // NOTE: the decode process caches the same blocks in a disk tier of its own: block 2 is damaged in both.
    await eventually(async () => keys.slice(1, 4).map((k) => onDisk(k).length), {
      until: (n) => n.join() === '2,2,2', what: 'blocks 1-3 of the first turn on disk in both pools (written asynchronously)', timeoutMs: 5_000,
    });
    // Block 2 is damaged: block 1 comes back from disk, block 3 is read but left over (past the miss).
    expect(damage(onDisk(keys[2]), 'corrupt')).toBe(2);
    const before = await e.stats();
    await turn(e, [...history, ...sized(74, 4)], 'turn after the damage');
    const stats = await e.stats();
    const prefill = actorOf(stats, 'prefill')?.tiers;
    expect((prefill?.disk?.corrupt ?? 0) - (actorOf(before, 'prefill')?.tiers?.disk?.corrupt ?? 0), 'the damaged file refused').toBe(1);
    expect((prefill?.disk?.hits ?? 0) - (actorOf(before, 'prefill')?.tiers?.disk?.hits ?? 0), 'blocks 0 and 1 served from disk').toBe(2);
    expectPoolsUnreferenced(stats);
    await expectDropsToStart(e, startFree, diskDir);
  }, 120_000);
});

describe('process placement: pulling a prefix from another process', () => {
  it('from the decode process\'s host tier: the swapped-in, transferred KV gives reference tokens', async () => {
    const diskDir = mkdtempSync(join(diskRoot, 'pull-host-'));
    // NOTE: a 16-block host tier takes everything the filler pushes out of the hot pool.
    const e = await start('process', diskDir, { cache: { hostBlocks: 16, diskDir, diskMaxBytes: 64 << 20, returnFromDecode: false } });
    const startFree = freeByPool(await e.stats());
    const history = await turn(e, sized(55, 64), 'first turn', 24);
    await eventually(() => e.stats(), { until: (s) => s.scheduler.promptTree.perInstance[1] >= (actorOf(s, 'decode')?.tiers?.hot.indexed ?? 1), what: 'the decode pool\'s blocks in the prompt tree' });
    await turn(e, sized(56, 168), 'filler');
    const before = await e.stats();
    expect(actorOf(before, 'decode')?.tiers?.host.blocks ?? 0, 'blocks in the decode process\'s host tier').toBeGreaterThan(0);
    expect(blockFiles(diskDir), 'nothing reached disk').toEqual([]);
    await turn(e, [...history, ...sized(57, 40)], 'turn after the filler');
    const stats = await e.stats();
    expect(stats.scheduler.prefixTransfers.asked - before.scheduler.prefixTransfers.asked, 'transfers asked of the decode process').toBeGreaterThan(0);
    expect((actorOf(stats, 'decode')?.tiers?.host.hits ?? 0) - (actorOf(before, 'decode')?.tiers?.host.hits ?? 0), 'blocks the decode process swapped in from host to send').toBeGreaterThan(0);
    expect(stats.scheduler.prefixTransfers.arrivedTokens - before.scheduler.prefixTransfers.arrivedTokens, 'tokens of KV moved past the prefill\'s own 4 blocks').toBeGreaterThan(64);
    expectPoolsUnreferenced(stats);
    await expectDropsToStart(e, startFree, diskDir);
  }, 120_000);

  for (const how of ['intact', 'corrupt', 'truncated'] as const) {
    it(`from the decode process's disk tier (${how} files): ${how === 'intact' ? 'the swapped-in, transferred KV gives' : 'the stale source sends what it still holds, the rest is recomputed;'} reference tokens`, async () => {
      const diskDir = mkdtempSync(join(diskRoot, `pull-${how}-`));
      const e = await start('process', diskDir);
      const startFree = freeByPool(await e.stats());
      // NOTE: a 24-token reply: the decode pool holds 5 full blocks of this turn, the prefill pool 4.
      const history = await turn(e, sized(51, 64), 'first turn', 24);
      await eventually(() => e.stats(), { until: (s) => s.scheduler.promptTree.perInstance[1] >= (actorOf(s, 'decode')?.tiers?.hot.indexed ?? 1), what: 'the decode pool\'s blocks in the prompt tree' });
      await turn(e, sized(52, 160), 'filler');
      // The decode pool's private disk directory is the one holding the reply's block (the prefill pool never had it).
      const replyKey = prefixKeys(history, BLOCK_SIZE)[4];
      await eventually(async () => poolDirHolding(diskDir, replyKey), { until: (d) => d !== null, what: 'the reply\'s block on the decode process\'s disk' });
      const decodeDir = poolDirHolding(diskDir, replyKey) ?? '';
      const before = await e.stats();
      const tensors = tensorsByActor(before);
      const decodeBefore = actorOf(before, 'decode')?.tiers;
      if (how !== 'intact') expect(damage(blockFiles(decodeDir), how), 'decode files damaged').toBeGreaterThan(0);
      await turn(e, [...history, ...sized(53, 40)], 'turn after the filler');
      const stats = await e.stats();
      const transfers = stats.scheduler.prefixTransfers;
      expect(transfers.asked - before.scheduler.prefixTransfers.asked, 'transfers asked of the decode process').toBeGreaterThan(0);
      const decode = actorOf(stats, 'decode')?.tiers;
      const arrived = transfers.arrivedTokens - before.scheduler.prefixTransfers.arrivedTokens;
      if (how === 'intact') {
        expect((decode?.disk?.hits ?? 0) - (decodeBefore?.disk?.hits ?? 0), 'blocks the decode process read back from disk to send').toBeGreaterThan(0);
        expect(arrived, 'tokens of KV moved past the prefill\'s own 4 blocks').toBeGreaterThan(64);
      } else {
        expect((decode?.disk?.corrupt ?? 0) - (decodeBefore?.disk?.corrupt ?? 0), 'damaged files refused by the decode process').toBeGreaterThan(0);
        expect(arrived, 'tokens of KV moved: never the damaged blocks').toBeLessThan(history.length - (history.length % BLOCK_SIZE));
      }
      expectPoolsUnreferenced(stats);
      expect(tensorsByActor(stats), 'model tensors per actor').toEqual(tensors);
      await expectDropsToStart(e, startFree, diskDir);
    }, 120_000);
  }
});

describe('process placement: an instance restarted with an empty pool', () => {
  it('the tree forgets what the killed process held; the next turns recompute or pull, with reference tokens', async () => {
    const diskDir = mkdtempSync(join(diskRoot, 'restart-'));
    const e = await start('process', diskDir, { prefill: 2, kv: { numBlocks: 24 }, health: { intervalMs: 100, unhealthyAfterMs: 120_000, restartAfterMs: 120_000 } });
    const startFree = freeByPool(await e.stats());
    let history = await turn(e, sized(61, 64), 'first turn');
    // NOTE: prefill actor i is tree instance 2i; an instance that never sent an event has no entry yet.
    const heldBy = (s: EngineStats, i: number): number => s.scheduler.promptTree.perInstance[2 * i] ?? 0;
    const held = await eventually(() => e.stats(), { until: (s) => heldBy(s, 0) + heldBy(s, 1) >= 4, what: 'the first turn in the prompt tree' });
    const victimIndex = heldBy(held, 0) >= 4 ? 0 : 1;
    const victim = `prefill-${victimIndex}`;
    const pid = held.actors.find((a) => a.name === victim)?.pid ?? 0;
    expect(pid, `${victim}'s pid`).toBeGreaterThan(0);
    process.kill(pid, 'SIGKILL');
    await eventually(() => e.stats(), {
      until: (s) => {
        const now = s.actors.find((a) => a.name === victim)?.pid ?? 0;
        return now !== pid && pidAlive(now) && heldBy(s, victimIndex) === 0;
      },
      what: `${victim} restarted in a new process, its old blocks gone from the tree`,
    });
    expect(pidAlive(pid)).toBe(false);
    for (let t = 0; t < 2; t++) history = await turn(e, [...history, ...sized(62 + t, 40)], `turn ${t + 2} after the restart`);
    const stats = await e.stats();
    expectPoolsUnreferenced(stats);
    await expectDropsToStart(e, startFree, diskDir);
  }, 120_000);
});

describe('colocated actors', () => {
  for (const placement of ['thread', 'process'] as const) {
    it(`${placement} placement: each keeps host and disk tiers of its own: conversations in rounds reuse swapped-out prefixes with reference tokens; drops bring every pool back`, async () => {
      const diskDir = mkdtempSync(join(diskRoot, `colocated-${placement}-`));
      engine = await createEngine({
        model: MODEL, backend: 'wasm', mode: 'colocated', colocated: 2, placement, routing: 'prompt-tree',
        kv: { numBlocks: 14 }, cache: { hostBlocks: 4, diskDir, diskMaxBytes: 64 << 20 },
      });
      const e = engine;
      const startFree = freeByPool(await e.stats());
      // NOTE: four conversations of three turns, in rounds (turn t of each, one at a time): the other
      // conversations push a conversation's blocks down the tiers before its next turn.
      const contexts: number[][] = [[], [], [], []];
      let tensors: Record<string, number> | null = null;
      for (let t = 0; t < 3; t++) {
        for (let c = 0; c < contexts.length; c++) contexts[c] = await turn(e, [...contexts[c], ...sized(91 + 4 * t + c, 40)], `conversation ${c} turn ${t}`);
        const now = tensorsByActor(await e.stats());
        if (tensors !== null) expect(now, 'model tensors per actor').toEqual(tensors);
        tensors = now;
      }
      const stats = await e.stats();
      expect(stats.pools.length, 'one pool shared by the threads, or one per process').toBe(placement === 'thread' ? 1 : 2);
      expect(tierSum(stats, (t) => t.swappedOut), 'blocks moved down a tier').toBeGreaterThan(0);
      expect(tierSum(stats, (t) => t.host.hits + (t.disk?.hits ?? 0)), 'later turns reused swapped-out blocks').toBeGreaterThan(0);
      expect(stats.scheduler.creditedTokens, 'the tree credited cached prefixes').toBeGreaterThan(0);
      expectPoolsUnreferenced(stats);
      await expectDropsToStart(e, startFree, diskDir);
    }, 120_000);
  }
});
