/**
 * Tokens computed from KV brought back up from the memory pool's lower tiers equal the tokens of
 * a full recompute: baton-tiny (wasm) prefills a prompt, its blocks are cached, swapped down to
 * host memory or to disk files, matched again (swapped in), and greedy decoding continues from
 * the cached prefix. Also after a transfer-with-insert into another instance's pool.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { argmax, backendMemory, initBackend, loadModel, type Gpt } from '@baton/model';
import { BlockPool, KvConnector, KvEndpoint, KvMemPool, type BlockTable } from '@baton/kv-cache';

let model: Gpt;
let dir: string;
let tensorsAtStart = 0;
const PROMPT = 100;
const STEPS = 8;

beforeAll(async () => {
  await initBackend('wasm');
  model = await loadModel('baton-tiny');
  dir = mkdtempSync(join(tmpdir(), 'mem-pool-model-'));
  tensorsAtStart = backendMemory().numTensors;
});
afterAll(() => {
  expect(backendMemory().numTensors).toBe(tensorsAtStart);
  model.dispose();
  rmSync(dir, { recursive: true, force: true });
});

const prompt = (seed: number): number[] => Array.from({ length: PROMPT }, (_, i) => (i * 31 + seed * 17 + ((i * i) % 7)) % 256);

function newPool(): BlockPool {
  const { nLayer, nHead, nEmbd } = model.config;
  return BlockPool.create({ blockSize: 16, layers: nLayer, heads: nHead, headDim: nEmbd / nHead, totalBlocks: 32 });
}

/** Prefills `tokens` from `cached` tokens already in `table`, then decodes greedily; returns the ids. */
function continueGreedy(table: BlockTable, cached: number, tokens: readonly number[]): number[] {
  expect(table.ensureCapacity(tokens.length + STEPS)).toBe(true);
  const seq = model.attach(table, { length: cached });
  try {
    const ids = [argmax(model.prefill(seq, tokens.slice(cached)))];
    for (let i = 1; i < STEPS; i++) ids.push(argmax(model.decode([{ seq, token: ids[i - 1] }])));
    return ids;
  } finally {
    seq.release();
  }
}

/** Computes `tokens` in full in `mem`'s pool and caches the prompt's blocks; returns the greedy ids. */
function computeAndCache(mem: KvMemPool, tokens: number[]): number[] {
  const table = mem.pool.createTable();
  const ids = continueGreedy(table, 0, tokens);
  mem.insert(table, tokens);
  table.release();
  return ids;
}

describe('KvMemPool with the model', () => {
  it.each(['host', 'disk'] as const)('greedy tokens from KV swapped in from %s equal a full recompute', async (tier) => {
    const mem = new KvMemPool({ pool: newPool(), hostBlocks: tier === 'host' ? 16 : 0, disk: { dir, maxBytes: 64 << 20 } });
    try {
      const tokens = prompt(tier === 'host' ? 1 : 2);
      const reference = computeAndCache(mem, tokens);
      expect(mem.swapOut(32)).toBeGreaterThanOrEqual(6);
      await mem.flush();
      const m = await mem.match(tokens.slice(0, -1));
      expect(m.cachedTokens).toBe(96);
      expect(m.blocks[tier]).toBe(6);
      expect(continueGreedy(m.table, m.cachedTokens, tokens)).toEqual(reference);
      m.table.release();
      mem.clear();
      expect(mem.pool.stats().free).toBe(32);
    } finally {
      await mem.close();
    }
  });

  it('greedy tokens after transfer-with-insert to another instance equal a full recompute', async () => {
    const a = new KvMemPool({ pool: newPool(), hostBlocks: 8 });
    const b = new KvMemPool({ pool: newPool(), hostBlocks: 8 });
    const endpoint = await KvEndpoint.listen({ pool: b.pool, insert: (table, tokens) => void b.insert(table, tokens) });
    const connector = new KvConnector({ pool: a.pool });
    try {
      const tokens = prompt(3);
      const reference = computeAndCache(a, tokens);
      const m = await a.match(tokens.slice(0, -1));
      await a.transfer(connector, endpoint.target, { table: m.table, tokenCount: m.cachedTokens, insert: tokens.slice(0, m.cachedTokens) });
      m.table.release();
      for (let i = 0; i < 400 && b.pool.cachedPrefixLength(tokens) < 96; i++) await new Promise((r) => setTimeout(r, 5));
      const there = await b.match(tokens.slice(0, -1));
      expect(there.cachedTokens).toBe(96);
      expect(continueGreedy(there.table, there.cachedTokens, tokens)).toEqual(reference);
      there.table.release();
      a.clear();
      b.clear();
      expect([a.pool.stats().free, b.pool.stats().free]).toEqual([32, 32]);
    } finally {
      connector.close();
      await endpoint.close();
      await a.close();
      await b.close();
    }
  });
});
