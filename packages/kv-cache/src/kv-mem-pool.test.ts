import { mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { prefixKeys } from './block-key.js';
import { BlockPool } from './block-pool.js';
import { KvArgumentError } from './errors.js';
import { KvMemPool, type KvPoolEvent } from './kv-mem-pool.js';
import { fillLayer, layerChecksum } from './testing/layer-checksum.js';

const geometry = { blockSize: 4, layers: 3, heads: 2, headDim: 4, totalBlocks: 12 };
const nEmbd = 8;
const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function scratchDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'kv-mem-pool-test-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function memPool(options: { hostBlocks: number; disk?: { maxBytes: number }; totalBlocks?: number }): KvMemPool {
  const pool = BlockPool.create({ ...geometry, totalBlocks: options.totalBlocks ?? geometry.totalBlocks });
  const disk = options.disk === undefined ? undefined : { dir: scratchDir(), maxBytes: options.disk.maxBytes };
  const mem = new KvMemPool({ pool, hostBlocks: options.hostBlocks, disk });
  cleanups.push(() => mem.close());
  return mem;
}

const prompt = (blocks: number, seed: number): number[] => Array.from({ length: blocks * geometry.blockSize }, (_, i) => (i * 31 + seed * 97) % 1000);

/** Writes a prompt's KV (deterministic per seed), inserts its full blocks, releases: they are idle cached. Returns per-layer checksums. */
function cachePrompt(mem: KvMemPool, tokens: number[], seed: number): number[] {
  const table = mem.pool.createTable();
  if (!table.ensureCapacity(tokens.length)) throw new Error('test pool too small');
  for (let layer = 0; layer < geometry.layers; layer++) fillLayer(table, { layer, tokenCount: tokens.length, nEmbd, seed });
  const sums = checksums(table, tokens.length);
  mem.insert(table, tokens);
  table.release();
  return sums;
}

function checksums(reader: Parameters<typeof layerChecksum>[0], tokenCount: number): number[] {
  return Array.from({ length: geometry.layers }, (_, layer) => layerChecksum(reader, { layer, tokenCount, nEmbd }));
}

function events(mem: KvMemPool): KvPoolEvent[] {
  const seen: KvPoolEvent[] = [];
  cleanups.push(mem.subscribe((e) => seen.push(e)));
  return seen;
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('KvMemPool', () => {
  it('swap_out to host and swap_in on a match return the original bytes; free counts return to start', async () => {
    const mem = memPool({ hostBlocks: 8 });
    const start = mem.pool.stats().free;
    const tokens = prompt(3, 1);
    const sums = cachePrompt(mem, tokens, 5);
    expect(mem.swapOut(10)).toBe(3);
    expect(mem.stats().host.blocks).toBe(3);
    expect(mem.pool.stats().free).toBe(start);
    const m = await mem.match(tokens);
    expect(m.blocks).toEqual({ hot: 0, host: 3, disk: 0 });
    expect(m.cachedTokens).toBe(tokens.length);
    expect(checksums(m.table, tokens.length)).toEqual(sums);
    m.table.release();
    expect(mem.stats().host.blocks).toBe(0);
    const again = await mem.match(tokens);
    expect(again.blocks).toEqual({ hot: 3, host: 0, disk: 0 });
    again.table.release();
    mem.clear();
    expect(mem.pool.stats().free).toBe(start);
  });

  it('under pressure, allocation moves idle cached blocks down a tier instead of dropping them', async () => {
    const mem = memPool({ hostBlocks: 8 });
    const seen = events(mem);
    const tokens = prompt(4, 2);
    const sums = cachePrompt(mem, tokens, 7);
    const busy = mem.allocate(geometry.totalBlocks);
    expect(busy).not.toBeNull();
    expect(mem.stats().host.blocks).toBe(4);
    mem.free(busy ?? []);
    await tick();
    expect(seen.filter((e) => e.type === 'swap' && e.from === 'hot' && e.to === 'host').flatMap((e) => (e.type === 'swap' ? e.keys : []))).toEqual(
      expect.arrayContaining(prefixKeys(tokens, geometry.blockSize)),
    );
    const m = await mem.match(tokens);
    expect(m.blocks.host).toBe(4);
    expect(checksums(m.table, tokens.length)).toEqual(sums);
    m.table.release();
    mem.clear();
    expect(mem.pool.stats().free).toBe(geometry.totalBlocks);
  });

  it('host overflow goes to disk; disk hits come back byte-for-byte (bounded, checksummed files)', async () => {
    const mem = memPool({ hostBlocks: 1, disk: { maxBytes: 1 << 20 } });
    const seen = events(mem);
    const tokens = prompt(3, 3);
    const sums = cachePrompt(mem, tokens, 11);
    expect(mem.swapOut(3)).toBe(3);
    await mem.flush();
    const stats = mem.stats();
    expect(stats.host.blocks).toBe(1);
    expect(stats.disk?.blocks).toBe(2);
    const dir = mem.diskPath('x')?.replace(/x\.kvb$/, '') ?? '';
    expect(readdirSync(dir).filter((f) => f.endsWith('.kvb'))).toHaveLength(2);
    const m = await mem.match(tokens);
    expect(m.blocks).toEqual({ hot: 0, host: 1, disk: 2 });
    expect(checksums(m.table, tokens.length)).toEqual(sums);
    m.table.release();
    await tick();
    expect(seen.some((e) => e.type === 'swap' && e.from === 'disk' && e.to === 'hot')).toBe(true);
    expect(seen.some((e) => e.type === 'swap' && e.from === 'host' && e.to === 'disk')).toBe(true);
    mem.clear();
    expect(mem.pool.stats().free).toBe(geometry.totalBlocks);
  });

  it.each(['corrupt', 'truncated', 'swapped'] as const)('a %s block file is a miss, never served; the prefix stops there', async (damage) => {
    const mem = memPool({ hostBlocks: 0, disk: { maxBytes: 1 << 20 } });
    const tokens = prompt(3, 4);
    cachePrompt(mem, tokens, 13);
    expect(mem.swapOut(3)).toBe(3);
    await mem.flush();
    const [k0, k1, k2] = prefixKeys(tokens, geometry.blockSize);
    const path = mem.diskPath(k1) ?? '';
    if (damage === 'corrupt') {
      const file = readFileSync(path);
      file[file.length - 3] ^= 0x40;
      writeFileSync(path, file);
    } else if (damage === 'truncated') {
      truncateSync(path, 100);
    } else {
      writeFileSync(path, readFileSync(mem.diskPath(k2) ?? ''));
    }
    const m = await mem.match(tokens);
    expect(m.blocks).toEqual({ hot: 0, host: 0, disk: 1 });
    expect(m.cachedTokens).toBe(geometry.blockSize);
    expect(mem.stats().disk?.corrupt).toBe(1);
    m.table.release();
    expect(k0).not.toBe(k1);
    mem.clear();
    expect(mem.pool.stats().free).toBe(geometry.totalBlocks);
  });

  it.each([
    ['a damaged block mid-prefix', 3],
    ['a hot pool too full to take the run', 0],
  ] as const)('disk blocks sent back to host (%s) say so in events: a replay of the events agrees with every tier', async (_, damaged) => {
    // NOTE: 5 hot blocks; with `damaged` 0 the caller holds 4 of them, so a 3-block run cannot come up.
    const mem = memPool({ hostBlocks: 4, disk: { maxBytes: 1 << 20 }, totalBlocks: 5 });
    const seen = events(mem);
    const tokens = prompt(5, 31);
    cachePrompt(mem, tokens, 37);
    expect(mem.swapOut(5)).toBe(5);
    const keys = prefixKeys(tokens, geometry.blockSize);
    // NOTE: the host tier keeps the last 4 swapped out (the head goes down last); push them to disk.
    cachePrompt(mem, prompt(4, 32), 38);
    mem.swapOut(5);
    await mem.flush();
    const held = damaged === 0 ? mem.allocate(4) : null;
    if (damaged > 0) truncateSync(mem.diskPath(keys[damaged - 1]) ?? '', 9);
    const m = await mem.match(tokens);
    m.table.release();
    mem.free(held ?? []);
    await tick();
    // Replay the events as the prompt tree does: an evict only removes the tier it names.
    const tierOf = new Map<string, string>();
    for (const e of seen) {
      for (const k of e.keys) {
        if (e.type === 'insert') tierOf.set(k, 'hot');
        else if (e.type === 'swap') tierOf.set(k, e.to);
        else if (tierOf.get(k) === e.tier) tierOf.delete(k);
      }
    }
    const count = (tier: string): number => [...tierOf.values()].filter((t) => t === tier).length;
    const stats = mem.stats();
    expect([count('hot'), count('host'), count('disk')], 'events replayed vs the tiers (hot, host, disk)').toEqual([stats.hot.cached, stats.host.blocks, stats.disk?.blocks]);
    mem.clear();
    await tick();
    for (const e of seen.splice(0)) for (const k of e.keys) if (e.type === 'evict' && tierOf.get(k) === e.tier) tierOf.delete(k);
    expect([...tierOf.keys()], 'keys a replay still places somewhere after clear()').toEqual([]);
    expect(mem.pool.stats().free).toBe(5);
  });

  it('a block recomputed and inserted while a copy sits in host or disk keeps one copy: tiers stay exclusive', async () => {
    const mem = memPool({ hostBlocks: 2, disk: { maxBytes: 1 << 20 } });
    const tokens = prompt(4, 33);
    cachePrompt(mem, tokens, 39);
    expect(mem.swapOut(4)).toBe(4);
    await mem.flush();
    expect([mem.stats().host.blocks, mem.stats().disk?.blocks]).toEqual([2, 2]);
    // The same prompt computed again (its cached copy not matched) and inserted hot.
    const sums = cachePrompt(mem, tokens, 39);
    const s = mem.stats();
    expect([s.hot.cached, s.host.blocks, s.disk?.blocks], 'hot, host and disk copies').toEqual([4, 0, 0]);
    const m = await mem.match(tokens);
    expect(m.blocks).toEqual({ hot: 4, host: 0, disk: 0 });
    expect(checksums(m.table, tokens.length)).toEqual(sums);
    m.table.release();
    mem.clear();
    expect(mem.pool.stats().free).toBe(geometry.totalBlocks);
  });

  it('keeps the disk tier within maxBytes, dropping the oldest files (evict events)', async () => {
    const blockFile = 32 + geometry.blockSize * 4 + geometry.layers * 2 * geometry.blockSize * nEmbd * 4;
    const mem = memPool({ hostBlocks: 0, disk: { maxBytes: 2 * blockFile } });
    const seen = events(mem);
    const tokens = prompt(4, 5);
    cachePrompt(mem, tokens, 17);
    mem.swapOut(4);
    await mem.flush();
    expect(mem.stats().disk?.blocks).toBe(2);
    expect(mem.stats().disk?.bytes).toBeLessThanOrEqual(2 * blockFile);
    await tick();
    const dropped = seen.flatMap((e) => (e.type === 'evict' && e.tier === 'disk' ? e.keys : []));
    // A released table's tail goes down first, so the tail blocks were the oldest files.
    const keys = prefixKeys(tokens, geometry.blockSize);
    expect(dropped).toEqual([keys[3], keys[2]]);
    const m = await mem.match(tokens);
    expect(m.blocks).toEqual({ hot: 0, host: 0, disk: 2 });
    m.table.release();
  });

  it('delete removes a prefix from every tier; insert events name the blocks', async () => {
    const mem = memPool({ hostBlocks: 1, disk: { maxBytes: 1 << 20 } });
    const seen = events(mem);
    const tokens = prompt(3, 6);
    cachePrompt(mem, tokens, 19);
    mem.swapOut(2);
    await mem.flush();
    expect(mem.delete(tokens)).toBe(3);
    const m = await mem.match(tokens);
    expect(m.cachedTokens).toBe(0);
    m.table.release();
    await tick();
    expect(seen[0]).toEqual({ type: 'insert', tier: 'hot', keys: prefixKeys(tokens, geometry.blockSize) });
    expect(seen.filter((e) => e.type === 'evict').flatMap((e) => (e.type === 'evict' ? e.keys : [])).sort()).toEqual(prefixKeys(tokens, geometry.blockSize).sort());
    expect(mem.stats().host.blocks + (mem.stats().disk?.blocks ?? 0)).toBe(0);
    expect(mem.pool.stats().free).toBe(geometry.totalBlocks);
  });

  it('a match continues past lower-tier blocks into hot ones (head swapped out, tail still hot)', async () => {
    const mem = memPool({ hostBlocks: 8 });
    const tokens = prompt(3, 7);
    const sums = cachePrompt(mem, tokens, 23);
    const tail = mem.pool.matchFrom(tokens, 2);
    expect(tail).toHaveLength(1);
    expect(mem.swapOut(3)).toBe(2);
    mem.free(tail);
    const m = await mem.match(tokens);
    expect(m.blocks).toEqual({ hot: 1, host: 2, disk: 0 });
    expect(checksums(m.table, tokens.length)).toEqual(sums);
    m.table.release();
    mem.clear();
    expect(mem.pool.stats().free).toBe(geometry.totalBlocks);
  });

  it('rejects bad options with KvArgumentError', () => {
    const pool = BlockPool.create(geometry);
    expect(() => new KvMemPool({ pool, hostBlocks: -1 })).toThrow(KvArgumentError);
    expect(() => new KvMemPool({ pool, hostBlocks: 1, hotReserveBlocks: 1.5 })).toThrow(/hotReserveBlocks/);
  });
});

describe('KvMemPool transfer', () => {
  it('transfer-with-insert moves a cached prefix to another instance and registers it there in one step', async () => {
    const { KvConnector } = await import('./kv-connector.js');
    const { KvEndpoint } = await import('./kv-endpoint.js');
    const a = memPool({ hostBlocks: 4 });
    const b = memPool({ hostBlocks: 4 });
    const seen = events(b);
    const endpoint = await KvEndpoint.listen({ pool: b.pool, insert: (table, tokens) => void b.insert(table, tokens) });
    cleanups.push(() => endpoint.close());
    const connector = new KvConnector({ pool: a.pool });
    cleanups.push(() => connector.close());
    const tokens = prompt(3, 8);
    const sums = cachePrompt(a, tokens, 29);
    a.swapOut(3);
    const m = await a.match(tokens);
    expect(m.blocks.host).toBe(3);
    await a.transfer(connector, endpoint.target, { table: m.table, tokenCount: tokens.length, insert: tokens });
    m.table.release();
    await eventually(() => b.pool.stats().indexed === 3);
    const there = await b.match(tokens);
    expect(there.blocks).toEqual({ hot: 3, host: 0, disk: 0 });
    expect(checksums(there.table, tokens.length)).toEqual(sums);
    there.table.release();
    expect(seen.some((e) => e.type === 'insert' && e.keys.length === 3)).toBe(true);
    a.clear();
    b.clear();
    expect([a.pool.stats().free, b.pool.stats().free]).toEqual([geometry.totalBlocks, geometry.totalBlocks]);
  });

  it('clear drops every unreferenced cached block of every tier (files too), one evict event per tier; referenced blocks stay', async () => {
    const mem = memPool({ hostBlocks: 1, disk: { maxBytes: 1 << 20 } });
    const seen = events(mem);
    const lower = prompt(3, 21);
    cachePrompt(mem, lower, 23);
    expect(mem.swapOut(3)).toBe(3);
    await mem.flush();
    const hot = prompt(2, 22);
    cachePrompt(mem, hot, 24);
    const held = prompt(1, 25);
    const table = mem.pool.createTable();
    table.ensureCapacity(held.length);
    mem.insert(table, held);
    const dir = mem.diskPath('x')?.replace(/x\.kvb$/, '') ?? '';
    expect(mem.clear()).toEqual({ hot: 2, host: 1, disk: 2 });
    expect(readdirSync(dir).filter((f) => f.endsWith('.kvb'))).toHaveLength(0);
    const after = mem.stats();
    expect([after.host.blocks, after.disk?.blocks, after.hot.cached, after.hot.used]).toEqual([0, 0, 0, 1]);
    await tick();
    const evicted = (tier: string): string[] => seen.flatMap((e) => (e.type === 'evict' && e.tier === tier ? e.keys : []));
    expect(evicted('hot').sort()).toEqual(prefixKeys(hot, geometry.blockSize).sort());
    expect([...evicted('host'), ...evicted('disk')].sort()).toEqual(prefixKeys(lower, geometry.blockSize).sort());
    table.release();
    expect(mem.clear()).toEqual({ hot: 1, host: 0, disk: 0 });
    expect(mem.pool.stats().free).toBe(geometry.totalBlocks);
  });

  it('transfer-with-insert into the shared pool indexes the blocks', async () => {
    const { KvConnector } = await import('./kv-connector.js');
    const mem = memPool({ hostBlocks: 0 });
    const connector = new KvConnector({ pool: mem.pool });
    const tokens = prompt(2, 9);
    const table = mem.pool.createTable();
    table.ensureCapacity(tokens.length);
    await mem.transfer(connector, { kind: 'shared' }, { table, tokenCount: tokens.length, insert: tokens });
    table.release();
    expect(mem.pool.cachedPrefixLength(tokens)).toBe(tokens.length);
    mem.clear();
    expect(mem.pool.stats().free).toBe(geometry.totalBlocks);
  });
});

async function eventually(check: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(check()).toBe(true);
}
