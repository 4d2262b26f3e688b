/**
 * Helpers of the role-flip tests: run greedy requests while something (a flip, a crash, an
 * abort) happens once enough tokens streamed, and check that every request that was not aborted
 * ends with exactly the tokens of plain `generate`, streamed once each, and that every KV pool is
 * back to its starting free count.
 */
import { expect } from 'vitest';
import type { Engine, GenerationResult } from '@baton/engine';
import { referenceIds } from './reference.js';

/** One request's outcome: its result and every token id streamed. */
export interface Outcome {
  result: GenerationResult;
  streamed: number[];
}

/**
 * Streams `prompts` (greedy, `maxTokens` each); `onTokens(n)` is called after every token with the
 * total streamed so far (to fire a flip or a fault once). `abortWhen(i)` returns an AbortSignal per
 * request (or none).
 */
export async function streamAll(
  engine: Engine,
  prompts: readonly number[][],
  maxTokens: number,
  onTokens: (total: number) => void,
  signals: ReadonlyArray<AbortSignal | undefined> = [],
): Promise<Outcome[]> {
  let total = 0;
  return Promise.all(prompts.map(async (prompt, i) => {
    const streamed: number[] = [];
    const g = engine.generate({ prompt, maxTokens, signal: signals[i] });
    for await (const ev of g) {
      if (ev.type !== 'token') continue;
      streamed.push(ev.id);
      total += 1;
      onTokens(total);
    }
    return { result: await g.result, streamed };
  }));
}

/**
 * A {@link streamAll} callback that runs `action` once, when `atTotal` tokens have streamed;
 * `fired()` is what it returned, and throws if it never ran (too few tokens streamed).
 */
export function onceAt<T>(atTotal: number, action: () => T): { onTokens: (total: number) => void; fired: () => T } {
  let ran: { value: T } | null = null;
  return {
    onTokens: (total) => {
      if (ran === null && total >= atTotal) ran = { value: action() };
    },
    fired: () => {
      if (ran === null) throw new Error(`fewer than ${atTotal} tokens streamed: the action never ran`);
      return ran.value;
    },
  };
}

/** Every outcome (but those in `aborted`) has the reference tokens, streamed exactly once. */
export async function expectReference(model: string, prompts: readonly number[][], maxTokens: number, outcomes: readonly Outcome[], aborted: ReadonlySet<number> = new Set()): Promise<void> {
  for (const [i, { result, streamed }] of outcomes.entries()) {
    if (aborted.has(i)) {
      expect(['abort', 'length'], `request ${i}`).toContain(result.finishReason);
      expect(streamed, `request ${i} stream`).toEqual(result.ids);
      const ref = await referenceIds(model, prompts[i], maxTokens);
      expect(result.ids, `request ${i} is a prefix of the reference`).toEqual(ref.slice(0, result.ids.length));
      continue;
    }
    expect(result.finishReason, `request ${i}: ${result.error?.message ?? ''}`).toBe('length');
    expect(streamed, `request ${i} stream`).toEqual(result.ids);
    expect(result.ids, `request ${i}`).toEqual(await referenceIds(model, prompts[i], maxTokens));
  }
}

/** Every pool of `engine` is back where it started: the same blocks in use (0 unless fault injection holds some) and available. */
export async function expectPoolsFree(engine: Engine, start: ReadonlyMap<string, PoolLevel>): Promise<void> {
  const stats = await engine.stats();
  for (const p of stats.pools) {
    const before = start.get(p.name) ?? { used: 0, available: p.stats.total };
    expect(p.stats.used, `pool ${p.name} blocks in use`).toBe(before.used);
    expect(p.stats.free + p.stats.cached, `pool ${p.name} free + cached`).toBe(before.available);
  }
}

/** Blocks of one pool in use and available (free or cached). */
export interface PoolLevel {
  used: number;
  available: number;
}

/** Each pool's level now, by pool name. */
export async function poolsNow(engine: Engine): Promise<Map<string, PoolLevel>> {
  const stats = await engine.stats();
  return new Map(stats.pools.map((p) => [p.name, { used: p.stats.used, available: p.stats.free + p.stats.cached }]));
}
