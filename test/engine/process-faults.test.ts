/**
 * Faults across processes: a prefill or decode actor's child process killed with SIGKILL while
 * eight long greedy streams run. Every request still completes with exactly the tokens of a run
 * without the kill (the dead process's requests resume after its restart or elsewhere, after the
 * tokens already streamed), the killed process is restarted (a new pid), and no KV block is left
 * in use in any pool. A decode process frozen with SIGSTOP is declared unhealthy by heartbeats,
 * gets no new work, its requests resume elsewhere with the same text, stats() does not block on it,
 * and it is restarted. Abort storms across processes leave every pool as it started.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createEngine, type Engine, type Generation } from '@baton/engine';
import { eventually } from '../support/eventually.js';
import { mixedPrompts, referenceIds } from '../support/reference.js';
import { pidAlive } from '../support/processes.js';

let engine: Engine | null = null;
afterEach(async () => {
  await engine?.close({ deadlineMs: 0 });
  engine = null;
});

const MAX_TOKENS = 96;

async function pidOf(e: Engine, actor: string): Promise<number> {
  const a = (await e.stats()).actors.find((s) => s.name === actor);
  if (a === undefined) throw new Error(`no actor ${actor}`);
  return a.pid;
}

/**
 * Streams `prompts`; once `killAfter` tokens arrived in total, SIGKILLs `victim`'s process.
 * With `freezeFirst` the victim is stopped (SIGSTOP) before the requests are sent, so the share
 * the scheduler routes to it is certainly still in flight when it is killed.
 * NOTE: without the freeze a prefill victim may have finished its prompts before the kill on a
 * busy machine (prefills are short and batched), and then nothing needs a retry.
 */
async function runWithKill(victim: string, prompts: number[][], killAfter: number, freezeFirst: boolean): Promise<{ ids: number[][]; killed: number }> {
  engine = await createEngine({
    model: 'baton-tiny', backend: 'wasm', mode: 'disaggregated', prefill: 2, decode: 2, placement: 'process', stallTimeoutMs: 20_000,
    // The kill is noticed by the process's exit, not by heartbeats (a frozen victim stays routable).
    health: { intervalMs: 100, unhealthyAfterMs: 120_000, restartAfterMs: 120_000 },
  });
  const e = engine;
  const killed = await pidOf(e, victim);
  expect(killed).not.toBe(process.pid);
  if (freezeFirst) process.kill(killed, 'SIGSTOP');
  let tokens = 0;
  let fired = false;
  const consume = async (g: Generation): Promise<number[]> => {
    const ids: number[] = [];
    for await (const ev of g) {
      if (ev.type !== 'token') {
        expect(ev.result.finishReason).toBe('length');
        return ev.result.ids;
      }
      ids.push(ev.id);
      tokens += 1;
      if (!fired && tokens >= killAfter) {
        fired = true;
        process.kill(killed, 'SIGKILL');
      }
    }
    return ids;
  };
  const ids = await Promise.all(prompts.map((prompt) => consume(e.generate({ prompt, maxTokens: MAX_TOKENS }))));
  expect(fired).toBe(true);
  return { ids, killed };
}

async function expectRecovered(victim: string, killAfter: number, freezeFirst: boolean): Promise<void> {
  const prompts = mixedPrompts(8, 21, 120);
  const { ids, killed } = await runWithKill(victim, prompts, killAfter, freezeFirst);
  for (const [i, got] of ids.entries()) expect(got, `request ${i}`).toEqual(await referenceIds('baton-tiny', prompts[i], MAX_TOKENS));
  const e = engine!;
  expect(pidAlive(killed)).toBe(false);
  await eventually(async () => {
    const pid = await pidOf(e, victim);
    return pid !== killed && pidAlive(pid);
  }, { what: `${victim} restarted in a new process` });
  const stats = await e.stats();
  expect(stats.retried).toBeGreaterThan(0);
  for (const p of stats.pools) expect(p.stats.used, `pool ${p.name}`).toBe(0);
}

describe('SIGKILL of a serving process while 8 greedy streams run', () => {
  it('a prefill process: every request completes with the reference tokens; it is restarted; no KV leaked', async () => {
    await expectRecovered('prefill-0', 4, true);
  });

  it('a decode process: every request completes with the reference tokens; it is restarted; no KV leaked', async () => {
    await expectRecovered('decode-0', 40, false);
  });
});

describe('right after a SIGKILL', () => {
  it('new requests go to the healthy sibling and all complete', async () => {
    engine = await createEngine({ model: 'baton-tiny', backend: 'wasm', mode: 'disaggregated', prefill: 2, decode: 2, placement: 'process' });
    const e = engine;
    const victim = await pidOf(e, 'prefill-0');
    process.kill(victim, 'SIGKILL');
    await eventually(async () => (await e.stats()).scheduler.down.includes('prefill-0') || (await pidOf(e, 'prefill-0')) !== victim, {
      what: 'the scheduler hears of the crash',
    });
    const prompts = mixedPrompts(10, 9, 40);
    const results = await Promise.all(prompts.map((prompt) => e.generate({ prompt, maxTokens: 8 }).result));
    for (const [i, r] of results.entries()) {
      expect(r.finishReason, `request ${i}: ${r.error?.message ?? ''}`).toBe('length');
      expect(r.ids, `request ${i}`).toEqual(await referenceIds('baton-tiny', prompts[i], 8));
    }
  });
});

describe('a decode process frozen with SIGSTOP', () => {
  it('is declared unhealthy, its requests resume elsewhere with the reference tokens, and it is restarted', async () => {
    engine = await createEngine({
      model: 'baton-tiny', backend: 'wasm', mode: 'disaggregated', prefill: 1, decode: 2, placement: 'process',
      health: { intervalMs: 100, unhealthyAfterMs: 3_000, restartAfterMs: 3_000 },
    });
    const e = engine;
    const frozen = await pidOf(e, 'decode-0');
    const prompts = mixedPrompts(8, 33, 80);
    let stopped = false;
    try {
      let tokens = 0;
      const runs = prompts.map(async (prompt) => {
        for await (const ev of e.generate({ prompt, maxTokens: MAX_TOKENS })) {
          if (ev.type !== 'token') return ev.result;
          tokens += 1;
          if (!stopped && tokens >= 24) {
            stopped = true;
            process.kill(frozen, 'SIGSTOP');
          }
        }
        throw new Error('stream ended without a result');
      });
      const results = await Promise.all(runs);
      for (const [i, r] of results.entries()) {
        expect(r.finishReason, `request ${i}`).toBe('length');
        expect(r.ids, `request ${i}`).toEqual(await referenceIds('baton-tiny', prompts[i], MAX_TOKENS));
      }
      expect(stopped).toBe(true);
      // Stats answer at once although decode-0 may still be frozen.
      const stats = await e.stats();
      expect(stats.actors.map((a) => a.name).sort()).toEqual(['decode-0', 'decode-1', 'prefill-0']);
      await eventually(async () => {
        const pid = await pidOf(e, 'decode-0');
        return pid !== frozen && pidAlive(pid);
      }, { what: 'decode-0 restarted in a new process', timeoutMs: 30_000 });
      const after = await Promise.all(['again', 'and again'].map((prompt) => e.generate({ prompt, maxTokens: 8 }).result));
      expect(after.map((r) => r.finishReason)).toEqual(['length', 'length']);
    } finally {
      if (pidAlive(frozen)) process.kill(frozen, 'SIGCONT');
    }
  });
});

describe('abort storms across processes', () => {
  it('leave every pool with no block in use', async () => {
    engine = await createEngine({ model: 'baton-tiny', backend: 'wasm', mode: 'disaggregated', prefill: 1, decode: 2, placement: 'process' });
    const e = engine;
    const prompts = mixedPrompts(40, 5, 200);
    const runs = prompts.map((prompt, i) => {
      const controller = new AbortController();
      const g = e.generate({ prompt, maxTokens: 64, signal: controller.signal });
      // NOTE: aborts land at every stage: queued, prefilling, in the KV stream, decoding.
      setTimeout(() => controller.abort(), (i % 8) * 15);
      return g.result.then((r) => r.finishReason, () => 'abort');
    });
    const reasons = await Promise.all(runs);
    expect(reasons.every((r) => r === 'abort' || r === 'length')).toBe(true);
    const stats = await eventually(async () => {
      const s = await e.stats();
      return s.active === 0 && s.pools.every((p) => p.stats.used === 0) ? s : null;
    }, { what: 'every request ended and every pool free' });
    expect(stats?.pools.length).toBeGreaterThan(1);
  });
});
