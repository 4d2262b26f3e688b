import { BlockPool, KvMemPool, prefixKeys, type KvPoolEvent } from '@baton/kv-cache';
import { describe, expect, it } from 'vitest';
import { PromptTree } from './prompt-tree.js';

const BS = 4;
const tokens = (n: number, base = 0): number[] => Array.from({ length: n }, (_, i) => base + i + 1);

describe('PromptTree', () => {
  it('reports each instance its run of leading blocks, by tier', () => {
    const tree = new PromptTree(BS);
    const prompt = tokens(17);
    const keys = prefixKeys(prompt, BS);
    tree.apply(0, { type: 'insert', tier: 'hot', keys: keys.slice(0, 4) });
    tree.apply(1, { type: 'insert', tier: 'hot', keys: keys.slice(0, 2) });
    tree.apply(0, { type: 'swap', from: 'hot', to: 'host', keys: [keys[0]] });
    const runs = tree.cachedRuns(tree.keysOf(prompt), 3);
    expect(runs[0]).toEqual({ instance: 0, tokens: 16, hotTokens: 0, heldTokens: 16, blocks: { hot: 3, host: 1, disk: 0 } });
    expect(runs[1]).toMatchObject({ tokens: 8, hotTokens: 8 });
    expect(runs[2].tokens).toBe(0);
    expect(tree.cachedTokens(0, prompt.slice(0, 9))).toBe(8);
  });

  it('a gap ends the run: a key evicted in the middle makes later blocks unusable', () => {
    const tree = new PromptTree(BS);
    const keys = prefixKeys(tokens(16), BS);
    tree.apply(0, { type: 'insert', tier: 'hot', keys });
    tree.apply(0, { type: 'evict', tier: 'hot', keys: [keys[1]] });
    expect(tree.cachedTokens(0, tokens(16))).toBe(4);
  });

  it('an evict of a tier the key already left changes nothing; forget drops an instance', () => {
    const tree = new PromptTree(BS);
    const keys = prefixKeys(tokens(8), BS);
    tree.apply(0, { type: 'insert', tier: 'hot', keys });
    tree.apply(1, { type: 'insert', tier: 'hot', keys });
    tree.apply(0, { type: 'swap', from: 'hot', to: 'disk', keys });
    tree.apply(0, { type: 'evict', tier: 'hot', keys });
    expect(tree.cachedTokens(0, tokens(8))).toBe(8);
    tree.forget(0);
    expect(tree.cachedTokens(0, tokens(8))).toBe(0);
    expect(tree.cachedTokens(1, tokens(8))).toBe(8);
    tree.apply(1, { type: 'evict', tier: 'hot', keys });
    expect(tree.stats().nodes).toBe(0);
  });

  it('instances sharing one pool: a block leaving its hot tier through one view leaves it for all; their lower tiers are their own', () => {
    const tree = new PromptTree(BS);
    const keys = prefixKeys(tokens(12), BS);
    for (const i of [0, 1, 2]) tree.apply(i, { type: 'insert', tier: 'hot', keys });
    // NOTE: instances 0 and 1 share a pool; 2 has its own.
    tree.applyBatch(0, [{ type: 'swap', from: 'hot', to: 'host', keys: [keys[2]] }, { type: 'evict', tier: 'hot', keys: [keys[1]] }], [1]);
    const runs = tree.cachedRuns(keys, 3);
    expect(runs.map((r) => r.tokens)).toEqual([4, 4, 12]);
    expect(runs[0].blocks).toEqual({ hot: 1, host: 0, disk: 0 });
    tree.applyBatch(0, [{ type: 'evict', tier: 'hot', keys: [keys[0]] }, { type: 'evict', tier: 'host', keys: [keys[2]] }], [1]);
    expect(tree.cachedRuns(keys, 3).map((r) => r.tokens)).toEqual([0, 0, 12]);
    tree.applyBatch(2, [{ type: 'evict', tier: 'hot', keys }], []);
    expect(tree.stats().nodes).toBe(0);
  });

  it('different prompts sharing a prefix share nodes; a diverging block is its own node', () => {
    const tree = new PromptTree(BS);
    const a = tokens(12);
    const b = [...tokens(8), 99, 98, 97, 96];
    tree.apply(0, { type: 'insert', tier: 'hot', keys: prefixKeys(a, BS) });
    tree.apply(1, { type: 'insert', tier: 'hot', keys: prefixKeys(b, BS) });
    expect(tree.stats().nodes).toBe(4);
    expect(tree.cachedRuns(tree.keysOf(b), 2).map((r) => r.tokens)).toEqual([8, 12]);
  });

  it('follows a real KvMemPool: inserts, swaps under pressure and drops, from its events only', async () => {
    const pool = BlockPool.create({ blockSize: BS, layers: 1, heads: 1, headDim: 2, totalBlocks: 8, maxOwners: 0 });
    const mem = new KvMemPool({ pool, hostBlocks: 2 });
    const tree = new PromptTree(BS);
    const batch: KvPoolEvent[] = [];
    mem.subscribe((e) => batch.push(e));
    const flush = async (): Promise<void> => {
      await Promise.resolve();
      tree.applyBatch(0, batch.splice(0));
    };
    const prompt = tokens(16);
    const t = pool.createTable();
    expect(t.ensureCapacity(16)).toBe(true);
    mem.insert(t, prompt);
    t.release();
    await flush();
    expect(tree.cachedTokens(0, prompt)).toBe(16);
    // Fill the hot pool: the idle cached blocks go down to host (2 fit), the rest are dropped.
    const ids = mem.allocate(8);
    expect(ids).not.toBeNull();
    await flush();
    mem.free(ids ?? []);
    const runs = tree.cachedRuns(tree.keysOf(prompt), 1);
    expect(runs[0].blocks.hot).toBe(0);
    const truth = await mem.match(prompt);
    expect(runs[0].tokens).toBe(truth.cachedTokens);
    expect(runs[0].blocks.host).toBe(truth.blocks.host);
    truth.table.release();
    await mem.close();
  });

  it('a prompt routed to an instance counts as held there until its last block is inserted', () => {
    const tree = new PromptTree(BS);
    const turn1 = tokens(12);
    const turn2 = [...turn1, ...tokens(8, 100)];
    const keys = tree.keysOf(turn1);
    tree.apply(0, { type: 'insert', tier: 'hot', keys: keys.slice(0, 1) });
    tree.addPending('r1', 1, keys);
    const runs = tree.cachedRuns(tree.keysOf(turn2), 2);
    // Instance 1 is about to hold all of turn 1 (it is queued there), though nothing is inserted yet.
    expect(runs[1]).toMatchObject({ tokens: 12, hotTokens: 12, heldTokens: 0 });
    expect(runs[0]).toMatchObject({ tokens: 4, heldTokens: 4 });
    expect(tree.stats().pending).toBe(1);
    tree.apply(1, { type: 'insert', tier: 'hot', keys: keys.slice(0, 2) });
    expect(tree.stats().pending).toBe(1);
    tree.apply(1, { type: 'insert', tier: 'hot', keys: keys.slice(2) });
    expect(tree.stats().pending).toBe(0);
    expect(tree.cachedRuns(tree.keysOf(turn2), 2)[1]).toMatchObject({ tokens: 12, heldTokens: 12 });
  });

  it('settling a pending prompt (failed or aborted) takes its credit away; forget drops an instance\'s pending prompts', () => {
    const tree = new PromptTree(BS);
    const a = tokens(8);
    tree.addPending('r1', 0, tree.keysOf(a));
    tree.addPending('r2', 0, tree.keysOf(a));
    tree.settle('r1');
    expect(tree.cachedTokens(0, a)).toBe(8);
    tree.settle('r2');
    expect(tree.cachedTokens(0, a)).toBe(0);
    tree.addPending('r3', 1, tree.keysOf(a));
    tree.forget(1);
    expect(tree.cachedTokens(1, a)).toBe(0);
    expect(tree.stats()).toMatchObject({ nodes: 0, pending: 0 });
    tree.settle('unknown');
  });
});
