/**
 * DiskTier file lifetimes: a cleared tier leaves no block file behind by the time clear() returns
 * (written files) or flush() resolves (files still being written when they were dropped), and a
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
