/**
 * Elastic role flips on thread placement, under load: a decode instance flipping to prefill hands
 * its running sequences to the other decode instances over the KV handoff (or drains them), a
 * prefill instance flipping to decode gives its queued prompts back for the other prefill
 * instance; in both, every greedy request ends with the tokens of plain `generate`, each streamed
 * once, the flip's record says what moved, the routing follows the new roles, and every pool is
 * back at its starting free count. Also: flips racing with aborts, with another flip, with an
 * actor crash (fault plan) and with a nearly full KV pool; refused flips are typed errors.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createEngine, FlipRefusedError, InvalidOptionsError, InvalidRequestError, type Engine, type EngineOptionsInput, type FlipRecord } from '@baton/engine';
import { mixedPrompts } from '../support/reference.js';
import { expectPoolsFree, expectReference, onceAt, poolsNow, streamAll } from '../support/flip-load.js';

const MODEL = 'baton-tiny';
let engine: Engine | null = null;
afterEach(async () => {
  await engine?.close({ deadlineMs: 0 });
  engine = null;
});

async function start(options: EngineOptionsInput): Promise<Engine> {
  // NOTE: heartbeats are not under test here: on a loaded machine a busy actor may miss the default 5 s and be routed around.
  engine = await createEngine({ model: MODEL, backend: 'wasm', stallTimeoutMs: 20_000, health: { unhealthyAfterMs: 60_000, restartAfterMs: 120_000 }, ...options });
  return engine;
}

describe('role flip on threads, under load', () => {
  it('decode -> prefill with handover: sequences move mid-stream, tokens equal plain generate, pools back', async () => {
    const e = await start({ prefill: 1, decode: 2, elastic: { mode: 'manual', policy: 'handover' } });
    const before = await poolsNow(e);
    const prompts = mixedPrompts(8, 161, 80);
    const flip = onceAt(60, () => e.flip({ instance: 2, to: 'prefill' }));
    const outcomes = await streamAll(e, prompts, 64, flip.onTokens);
    const record = await flip.fired();
    expect(record).toMatchObject({ instance: 2, from: 'decode', to: 'prefill', policy: 'handover', reason: 'api' });
    expect(record.costMs).toBeGreaterThanOrEqual(0);
    expect(record.handedOver, 'sequences handed over mid-stream').toBeGreaterThan(0);
    await expectReference(MODEL, prompts, 64, outcomes);
    const stats = await e.stats();
    expect(stats.scheduler.elastic).toMatchObject({ prefill: 2, decode: 1, completedFlips: 1 });
    expect(stats.scheduler.elastic?.instances.map((i) => i.role)).toEqual(['prefill', 'decode', 'prefill']);
    // Routing follows: new requests are prefilled on instance 2 too and decoded on instance 1 only.
    const after = await streamAll(e, mixedPrompts(6, 7, 60), 8, () => undefined);
    await expectReference(MODEL, mixedPrompts(6, 7, 60), 8, after);
    const served = await e.stats();
    const decode2 = served.actors.find((a) => a.name === 'decode-2');
    const prefill2 = served.actors.find((a) => a.name === 'prefill-2');
    expect(prefill2?.tokensProcessed ?? 0).toBeGreaterThan(0);
    expect(decode2?.running).toBe(0);
    await expectPoolsFree(e, before);
  });

  it('decode -> prefill with drain: sequences finish in place, then the instance serves prefill', async () => {
    const e = await start({ prefill: 1, decode: 2, elastic: { mode: 'manual', policy: 'drain' } });
    const before = await poolsNow(e);
    const prompts = mixedPrompts(6, 17, 60);
    const flip = onceAt(30, () => e.flip({ instance: 1, to: 'prefill' }));
    const outcomes = await streamAll(e, prompts, 48, flip.onTokens);
    const record = await flip.fired();
    expect(record).toMatchObject({ instance: 1, to: 'prefill', policy: 'drain', handedOver: 0 });
    await expectReference(MODEL, prompts, 48, outcomes);
    await expectPoolsFree(e, before);
  });

  it('prefill -> decode: queued prompts go to the other prefill instance; the instance then decodes', async () => {
    const e = await start({ prefill: 2, decode: 1, elastic: { mode: 'manual' } });
    const before = await poolsNow(e);
    const prompts = mixedPrompts(12, 29, 120);
    const flip = e.flip({ instance: 1, to: 'decode' });
    const outcomes = await streamAll(e, prompts, 24, () => undefined);
    const record = await flip;
    expect(record).toMatchObject({ instance: 1, from: 'prefill', to: 'decode' });
    await expectReference(MODEL, prompts, 24, outcomes);
    const more = mixedPrompts(6, 31, 40);
    await expectReference(MODEL, more, 24, await streamAll(e, more, 24, () => undefined));
    const stats = await e.stats();
    expect(stats.scheduler.elastic?.decode).toBe(2);
    expect(stats.actors.find((a) => a.name === 'decode-1')?.tokensProcessed ?? 0).toBeGreaterThan(0);
    await expectPoolsFree(e, before);
  });
});

describe('role flip racing with faults', () => {
  it('with aborts of half the requests: the others keep their tokens, nothing leaks', async () => {
    const e = await start({ prefill: 1, decode: 2, elastic: { mode: 'manual' } });
    const before = await poolsNow(e);
    const prompts = mixedPrompts(8, 41, 60);
    const controllers = prompts.map(() => new AbortController());
    const aborted = new Set([0, 2, 4, 6]);
    const flip = onceAt(40, () => {
      const flipped = e.flip({ instance: 2, to: 'prefill' });
      for (const i of aborted) controllers[i].abort();
      return flipped;
    });
    const outcomes = await streamAll(e, prompts, 64, flip.onTokens, controllers.map((c) => c.signal));
    await flip.fired();
    await expectReference(MODEL, prompts, 64, outcomes, aborted);
    await expectPoolsFree(e, before);
  });

  it('with another flip: one at a time per instance, bounds hold, both complete', async () => {
    const e = await start({ prefill: 2, decode: 2, elastic: { mode: 'manual' } });
    const before = await poolsNow(e);
    const prompts = mixedPrompts(8, 53, 60);
    const flips: Array<Promise<FlipRecord>> = [];
    const refusals: unknown[] = [];
    const outcomes = await streamAll(e, prompts, 48, (n) => {
      if (flips.length > 0 || n < 30) return;
      flips.push(e.flip({ instance: 3, to: 'prefill' }));
      // The same instance again, and a flip that would leave decode with no instance serving: refused.
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

  it('with the flipping decode actor crashing (fault plan): its sequences resume, the flip completes', async () => {
    const e = await start({
      prefill: 1, decode: 2, elastic: { mode: 'manual', policy: 'drain' },
      faults: { crashes: [{ role: 'decode', index: 2, afterSteps: 20, kind: 'throw' }] },
    });
    const prompts = mixedPrompts(8, 67, 60);
    const flip = onceAt(16, () => e.flip({ instance: 2, to: 'prefill' }));
    const outcomes = await streamAll(e, prompts, 64, flip.onTokens);
    const record = await flip.fired();
    expect(record.instance).toBe(2);
    await expectReference(MODEL, prompts, 64, outcomes);
    const stats = await e.stats();
    expect(stats.retried).toBeGreaterThan(0);
    for (const p of stats.pools) expect(p.stats.used, `pool ${p.name}`).toBe(0);
  });

  it('with a nearly full KV pool: preempted sequences are recomputed and handed over, none is lost', async () => {
    const e = await start({ prefill: 1, decode: 2, kv: { numBlocks: 96 }, faults: { reserveKvBlocks: 40 }, elastic: { mode: 'manual' } });
    const before = await poolsNow(e);
    const prompts = mixedPrompts(8, 79, 90);
    const flip = onceAt(40, () => e.flip({ instance: 1, to: 'prefill' }));
    const outcomes = await streamAll(e, prompts, 64, flip.onTokens);
    await flip.fired();
    await expectReference(MODEL, prompts, 64, outcomes);
    await expectPoolsFree(e, before);
  });
});

describe('flip requests and options', () => {
  it('refuses bad flips with typed errors; fixed roles refuse every flip', async () => {
    const e = await start({ prefill: 1, decode: 1 });
    await expect(e.flip({ instance: 0, to: 'decode' })).rejects.toBeInstanceOf(FlipRefusedError);
    await e.close();
    const m = await start({ prefill: 1, decode: 2, elastic: { mode: 'manual' } });
    await expect(m.flip({ instance: 7, to: 'decode' })).rejects.toThrow(/instance 7 does not exist/);
    await expect(m.flip({ instance: 0, to: 'decode' })).rejects.toThrow(/prefill would fall below its minimum/);
    await expect(m.flip({ instance: 1, to: 'decode' })).rejects.toThrow(/already serves decode/);
    await expect(m.flip({ instance: -1, to: 'decode' })).rejects.toBeInstanceOf(InvalidRequestError);
    await expect(m.flip({ instance: 1, to: 'colocated' as 'decode' })).rejects.toBeInstanceOf(InvalidRequestError);
  });

  it('validates elastic options with errors naming the option', async () => {
    await expect(createEngine({ model: MODEL, elastic: { mode: 'planner' } })).rejects.toThrow(/elastic\.mode.*slo/);
    await expect(createEngine({ model: MODEL, mode: 'colocated', elastic: { mode: 'manual' } })).rejects.toBeInstanceOf(InvalidOptionsError);
    await expect(createEngine({ model: MODEL, elastic: { mode: 'manual' }, placement: { prefill: 'process', decode: 'thread' } })).rejects.toThrow(/placement/);
  });
});
