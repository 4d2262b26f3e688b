/**
 * Test support for context caching across placements: seeded prompts of an exact length, turns
 * checked against the plain greedy generate, the disk tier's block files (listed, found by chain
 * key, damaged), and the pool checks every such test ends with. Owns no engine: callers start and
 * stop theirs.
 */
import { readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { expect } from 'vitest';
import type { Engine, EngineStats } from '@baton/engine';
import type { KvMemPoolStats } from '@baton/kv-cache';
import { mixedPrompts, referenceIds } from '../support/reference.js';

/** The model every context-caching test serves. */
export const MODEL = 'baton-tiny';

/** Tokens per KV block of the engine's default pool. */
export const BLOCK_SIZE = 16;

/** `n` tokens repeating seeded printable bytes. */
export function sized(seed: number, n: number): number[] {
  const m = mixedPrompts(1, seed, 50)[0];
  return Array.from({ length: n }, (_, i) => (m[i % m.length] + Math.floor(i / m.length)) % 127 || 32);
}

/** Generates greedily and checks the ids against the reference; returns the conversation extended by the reply. */
export async function turn(e: Engine, prompt: number[], label: string, out = 6): Promise<number[]> {
  const r = await e.generate({ prompt, maxTokens: out }).result;
  expect(r.ids, label).toEqual(await referenceIds(MODEL, prompt, out));
  return [...prompt, ...r.ids];
}

/** Every block file (`.kvb`) under `dir`, recursively, sorted by directory then name. */
export function blockFiles(dir: string): string[] {
  const walk = (d: string): string[] =>
    readdirSync(d).flatMap((name) => {
      const path = join(d, name);
      return statSync(path).isDirectory() ? walk(path) : [path];
    });
  return walk(dir).filter((f) => f.endsWith('.kvb')).sort();
}

/** The private disk-tier directory (one per pool) under `dir` that holds the block of chain key `key`, or null. */
export function poolDirHolding(dir: string, key: string): string | null {
  const file = blockFiles(dir).find((f) => basename(f) === `${key}.kvb`);
  return file === undefined ? null : dirname(file);
}

/** How block files are damaged behind the engine's back. */
export type Damage = 'corrupt' | 'truncated' | 'every-other';

/**
 * Damages `files`: 'corrupt' flips one bit in the middle of each (same length), 'truncated' cuts
 * each to 7 bytes, 'every-other' cuts the 2nd, 4th, ... file of each directory (so cached prefixes
 * break in the middle, with intact blocks after the break). Returns how many files were damaged.
 */
export function damage(files: readonly string[], how: Damage): number {
  let n = 0;
  const seen = new Map<string, number>();
  for (const f of files) {
    const i = seen.get(dirname(f)) ?? 0;
    seen.set(dirname(f), i + 1);
    if (how === 'corrupt') {
      const bytes = readFileSync(f);
      bytes[bytes.length >> 1] ^= 0x10;
      writeFileSync(f, bytes);
    } else if (how === 'truncated' || i % 2 === 1) {
      truncateSync(f, 7);
    } else continue;
    n += 1;
  }
  return n;
}

/** Each pool's free block count, by pool name. */
export const freeByPool = (s: EngineStats): Record<string, number> => Object.fromEntries(s.pools.map((p) => [p.name, p.stats.free]));

/** Sums a per-actor tier number over every actor. */
export function tierSum(s: EngineStats, pick: (tiers: KvMemPoolStats) => number): number {
  return s.actors.reduce((n, a) => n + (a.tiers === null ? 0 : pick(a.tiers)), 0);
}

/** Tensors each actor holds, by actor name (the model's weights; must not grow turn over turn). */
export const tensorsByActor = (s: EngineStats): Record<string, number> => Object.fromEntries(s.actors.map((a) => [a.name, a.tensors]));

/** No block of any pool is referenced: each is free or cached. */
export function expectPoolsUnreferenced(stats: EngineStats): void {
  for (const p of stats.pools) {
    expect(p.stats.used, `pool ${p.name}`).toBe(0);
    expect(p.stats.free + p.stats.cached, `pool ${p.name}`).toBe(p.stats.total);
  }
}
