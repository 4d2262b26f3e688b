/**
 * Property-based test of the prompt tree against a real tiered pool: seeded random sequences of
 * caching prompts, allocation pressure, matches, swap-outs, damaged block files, deletes and
 * clears on a KvMemPool with host and disk tiers, the tree fed only by the pool's events. After
 * every step: the tree holds exactly as many keys for the instance as the pool does over its
 * tiers (hot index + host + disk: tiers are exclusive and every move is announced), and right
 * after a match the tree's cached run of that prompt is the run the pool really served (a damaged
 * file the tree still believed in is gone from it by then: the stale entry cost a recompute).
 */
import { existsSync, mkdtempSync, rmSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlockPool, KvMemPool, prefixKeys, type KvPoolEvent } from '@baton/kv-cache';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PromptTree } from './prompt-tree.js';

const BS = 2;
const TOTAL_BLOCKS = 8;
/** Prompts sharing prefixes (full blocks of 2 tokens), at most 4 blocks each. */
const PROMPTS = [
  [1, 2, 3, 4, 5, 6, 7, 8],
  [1, 2, 3, 4, 9, 9],
  [1, 2, 7, 7, 7, 7, 5],
  [8, 8, 8, 8],
  [3, 1, 4, 1, 5, 9, 2, 6],
];

type Op =
  | { kind: 'cache'; p: number }
  | { kind: 'pressure'; n: number }
  | { kind: 'match'; p: number }
  | { kind: 'swapOut'; n: number }
  | { kind: 'damage'; p: number; block: number }
  | { kind: 'delete'; p: number }
  | { kind: 'clear' };

const prompt = fc.integer({ min: 0, max: PROMPTS.length - 1 });
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: prompt.map((p) => ({ kind: 'cache' as const, p })) },
  { weight: 3, arbitrary: fc.integer({ min: 1, max: TOTAL_BLOCKS }).map((n) => ({ kind: 'pressure' as const, n })) },
  { weight: 4, arbitrary: prompt.map((p) => ({ kind: 'match' as const, p })) },
  { weight: 2, arbitrary: fc.integer({ min: 1, max: 4 }).map((n) => ({ kind: 'swapOut' as const, n })) },
  { weight: 2, arbitrary: fc.record({ p: prompt, block: fc.integer({ min: 0, max: 3 }) }).map((r) => ({ kind: 'damage' as const, ...r })) },
  { weight: 1, arbitrary: prompt.map((p) => ({ kind: 'delete' as const, p })) },
  { weight: 1, arbitrary: fc.constant({ kind: 'clear' as const }) },
);

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

async function run(hostBlocks: number, ops: readonly Op[]): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'prompt-tree-property-'));
  const pool = BlockPool.create({ blockSize: BS, layers: 1, heads: 1, headDim: 2, totalBlocks: TOTAL_BLOCKS, maxOwners: 0 });
  const mem = new KvMemPool({ pool, hostBlocks, disk: { dir, maxBytes: 1 << 20 } });
  const tree = new PromptTree(BS);
  const batch: KvPoolEvent[] = [];
  mem.subscribe((e) => batch.push(e));
  try {
    for (const [step, o] of ops.entries()) {
      let served: { p: number; tokens: number } | null = null;
      if (o.kind === 'cache') {
        const t = pool.createTable();
        if (t.ensureCapacity(PROMPTS[o.p].length)) mem.insert(t, PROMPTS[o.p]);
        t.release();
      } else if (o.kind === 'pressure') {
        mem.free(mem.allocate(o.n) ?? []);
      } else if (o.kind === 'match') {
        const m = await mem.match(PROMPTS[o.p]);
        served = { p: o.p, tokens: m.cachedTokens };
        m.table.release();
      } else if (o.kind === 'swapOut') {
        mem.swapOut(o.n);
      } else if (o.kind === 'damage') {
        await mem.flush();
        const key = prefixKeys(PROMPTS[o.p], BS)[o.block];
        const path = key === undefined ? null : mem.diskPath(key);
        if (path !== null && existsSync(path)) truncateSync(path, 5);
      } else if (o.kind === 'delete') {
        mem.delete(PROMPTS[o.p]);
      } else {
        mem.clear();
      }
      await tick();
      tree.applyBatch(0, batch.splice(0));
      const s = mem.stats();
      const label = `step ${step} (${JSON.stringify(o)})`;
      expect(tree.stats().perInstance[0] ?? 0, `${label}: keys the tree holds vs hot index + host + disk`).toBe(s.hot.indexed + s.host.blocks + (s.disk?.blocks ?? 0));
      if (served !== null) expect(tree.cachedTokens(0, PROMPTS[served.p]), `${label}: the tree's run after the match`).toBe(served.tokens);
    }
    mem.clear();
    await tick();
    tree.applyBatch(0, batch.splice(0));
    expect(tree.stats().nodes, 'tree nodes after the final clear').toBe(0);
    expect(pool.stats().free).toBe(TOTAL_BLOCKS);
  } finally {
    await mem.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('PromptTree following a tiered KvMemPool (property)', () => {
  it('holds what the pool holds after every step, and a match\'s run exactly, through damage, pressure and drops', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 3 }), fc.array(op, { minLength: 1, maxLength: 30 }), (hostBlocks, ops) => run(hostBlocks, ops)),
      { seed: 20261204, numRuns: 150 },
    );
  }, 60_000);
});
