/**
 * DiskTier file lifetimes: a cleared tier leaves no block file behind by the time clear() returns
 * (written files) or flush() resolves (files still being written when they were dropped); a block
 * written out again while its old write runs keeps its file; a failed write is reported; a
 * damaged or missing file is a miss, never served.
 */
import { mkdtempSync, readdirSync, rmSync, truncateSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { DiskTier } from './disk-tier.js';
import type { SwappedBlock } from './host-tier.js';

const FLOATS = 64;
const TOKENS = 4;
const dirs: string[] = [];
const tiers: DiskTier[] = [];

afterEach(async () => {
  for (const t of tiers.splice(0)) await t.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tier(maxBytes = 1 << 20): DiskTier {
  const dir = mkdtempSync(`${tmpdir()}/disk-tier-test-`);
  dirs.push(dir);
  const t = new DiskTier(dir, maxBytes);
  tiers.push(t);
  return t;
}

const key = (i: number): string => i.toString(16).padStart(16, '0');

function block(i: number): SwappedBlock {
  return {
    key: key(i + 1),
    parent: key(i),
    tokens: Int32Array.from({ length: TOKENS }, (_, j) => 10 * i + j),
    data: Float32Array.from({ length: FLOATS }, (_, j) => i + j / FLOATS),
  };
}

const expectOf = (b: SwappedBlock) => ({ parent: b.parent, tokens: b.tokens, floats: FLOATS });
const filesIn = (t: DiskTier): string[] => readdirSync(t.dir);

describe('DiskTier', () => {
  it('clear() removes every written file before it returns', async () => {
    const t = tier();
    for (let i = 0; i < 5; i++) t.put(block(i));
    await t.flush();
    expect(filesIn(t)).toHaveLength(5);
    expect(t.clear()).toHaveLength(5);
    expect(filesIn(t), 'files right after clear()').toEqual([]);
    expect([t.size, t.bytes]).toEqual([0, 0]);
  });

  it('blocks dropped while their files are written leave nothing once flush() resolves', async () => {
    const t = tier();
    for (let i = 0; i < 5; i++) t.put(block(i));
    t.delete(block(0).key);
    t.clear();
    await t.flush();
    expect(filesIn(t), 'files (and temporaries) after flush()').toEqual([]);
  });

  it('a block dropped while being written and written out again keeps its new file (the old write never removes it)', async () => {
    const t = tier();
    const b = block(3);
    t.put(b);
    t.delete(b.key);
    t.put(b);
    await t.flush();
    expect(filesIn(t), 'one file, no temporaries').toEqual([`${b.key}.kvb`]);
    const got = await t.take(b.key, expectOf(b));
    expect(got?.data).toEqual(b.data);
    expect(t.corrupt).toBe(0);
  });

  it('a write that fails is reported lost and leaves the tier', async () => {
    const dir = mkdtempSync(`${tmpdir()}/disk-tier-test-`);
    dirs.push(dir);
    const lost: string[] = [];
    const t = new DiskTier(dir, 1 << 20, (k) => lost.push(k));
    tiers.push(t);
    // NOTE: the private directory removed behind the tier's back: every write fails.
    rmSync(t.dir, { recursive: true, force: true });
    t.put(block(4));
    await t.flush();
    expect([lost, t.size, t.bytes]).toEqual([[block(4).key], 0, 0]);
  });

  it('a written block comes back byte for byte; a truncated or missing file is a miss, counted as corrupt', async () => {
    const t = tier();
    const [a, b, c] = [block(0), block(1), block(2)];
    for (const x of [a, b, c]) t.put(x);
    await t.flush();
    truncateSync(t.pathOf(b.key), 12);
    unlinkSync(t.pathOf(c.key));
    const got = await t.take(a.key, expectOf(a));
    expect(got?.data).toEqual(a.data);
    expect(got?.tokens).toEqual(a.tokens);
    expect(await t.take(b.key, expectOf(b))).toBeNull();
    expect(await t.take(c.key, expectOf(c))).toBeNull();
    expect(t.corrupt).toBe(2);
    expect([t.size, filesIn(t)]).toEqual([0, []]);
  });
});
