/**
 * Role flips racing with faults on process placement (an instance is one child process holding a
 * prefill and a decode actor; a handed-over sequence's KV streams into the target process's own
 * pool): aborts of half the requests during a decode -> prefill handover (an abort follows the
 * sequence to the process it moved to), another flip at the same time (one at a time per instance,
 * bounds hold), and KV pools too small for every sequence after the flip. In each, every request that was not aborted ends with
 * the tokens of plain `generate`, streamed once each, and every pool is back at its starting level.
 * (A SIGKILL of the flipping process is in test/engine/role-flip-process.test.ts.)
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createEngine, FlipRefusedError, type Engine, type EngineOptionsInput, type FlipRecord } from '@baton/engine';
import { expectPoolsFree, expectReference, onceAt, poolsNow, streamAll } from '../support/flip-load.js';
import { mixedPrompts } from '../support/reference.js';

const MODEL = 'baton-tiny';
let engine: Engine | null = null;
afterEach(async () => {
  await engine?.close({ deadlineMs: 0 });
  engine = null;
});

async function start(options: EngineOptionsInput): Promise<Engine> {
  // NOTE: heartbeats are not under test here: on a loaded machine a busy actor may miss the default 5 s and be routed around.
  engine = await createEngine({
    model: MODEL, backend: 'wasm', placement: 'process', stallTimeoutMs: 20_000, health: { unhealthyAfterMs: 60_000, restartAfterMs: 120_000 },
    elastic: { mode: 'manual' }, ...options,
  });
  return engine;
}

describe('role flip racing with faults in child processes', () => {
  it('with aborts of half the requests during a handover: the others keep their tokens, nothing leaks', async () => {
    const e = await start({ prefill: 1, decode: 2 });
    const before = await poolsNow(e);
    const prompts = mixedPrompts(8, 401, 60);
    const controllers = prompts.map(() => new AbortController());
    const aborted = new Set([1, 3, 5, 7]);
    const flip = onceAt(40, () => {
      const flipped = e.flip({ instance: 2, to: 'prefill' });
      for (const i of aborted) controllers[i].abort();
      return flipped;
    });
    const outcomes = await streamAll(e, prompts, 64, flip.onTokens, controllers.map((c) => c.signal));
    expect(await flip.fired()).toMatchObject({ instance: 2, from: 'decode', to: 'prefill' });
    await expectReference(MODEL, prompts, 64, outcomes, aborted);
    await expectPoolsFree(e, before);
  });

  it('with another flip: one at a time per instance, bounds hold, both complete', async () => {
    const e = await start({ prefill: 2, decode: 2 });
    const before = await poolsNow(e);
    const prompts = mixedPrompts(8, 409, 60);
    const flips: Array<Promise<FlipRecord>> = [];
    const refusals: unknown[] = [];
    const outcomes = await streamAll(e, prompts, 48, (n) => {
      if (flips.length > 0 || n < 30) return;
      flips.push(e.flip({ instance: 3, to: 'prefill' }));
      e.flip({ instance: 3, to: 'prefill' }).catch((err: unknown) => refusals.push(err));
      e.flip({ instance: 2, to: 'prefill' }).catch((err: unknown) => refusals.push(err));
      flips.push(e.flip({ instance: 0, to: 'decode' }));
    });
    const records = await Promise.all(flips);
    expect(records.map((r) => r.instance)).toEqual([3, 0]);
    expect(refusals).toHaveLength(2);
    for (const r of refusals) expect(r).toBeInstanceOf(FlipRefusedError);
    await expectReference(MODEL, prompts, 48, outcomes);
    expect((await e.stats()).scheduler.elastic?.instances.map((i) => i.role)).toEqual(['decode', 'prefill', 'decode', 'prefill']);
    await expectPoolsFree(e, before);
  });

  it('with KV pools too small for every sequence after the flip (the receiver preempts and recomputes): none is lost, no block kept', async () => {
    // NOTE: each process has a pool of its own (40 blocks of 16 tokens); 8 sequences of up to ~150 tokens need up to ~80 blocks, so the
    // remaining decode process cannot hold all of them to the end.
    const e = await start({ prefill: 1, decode: 2, kv: { numBlocks: 40 } });
    const before = await poolsNow(e);
    const prompts = mixedPrompts(8, 419, 90);
    const flip = onceAt(40, () => e.flip({ instance: 1, to: 'prefill' }));
    const outcomes = await streamAll(e, prompts, 64, flip.onTokens);
    const record = await flip.fired();
    expect(record.handedOver + record.drained).toBeGreaterThan(0);
    const preempted = (await e.stats()).actors.filter((a) => a.name.startsWith('decode-')).reduce((n, a) => n + a.preemptions, 0);
    expect(preempted, 'the pools ran out: sequences were preempted and recomputed').toBeGreaterThan(0);
    await expectReference(MODEL, prompts, 64, outcomes);
    await expectPoolsFree(e, before);
  });
});
