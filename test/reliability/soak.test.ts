/**
 * Soak: many mixed, seeded requests with random aborts, against an engine with faults injected
 * (decode thread exits, a decode throw, a prefill throw, every Nth KV handoff dropped). Afterwards
 * nothing is left behind: no request lost (each settles within a bound), no token duplicated or
 * missing in a stream, KV pool used == 0 and every actor idle with no KV, worker threads and
 * active handles back to their starting level after close, heap (after GC) within a stated margin.
 * A sample of completed greedy requests is checked against the plain single-model reference.
 *
 * The suite runs SOAK_REQUESTS (300); `npm run reliability:soak` runs 5,000
 * (BATON_SOAK_REQUESTS=5000) and prints the figures for RELIABILITY.md.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createEngine, type Engine, type EngineOptionsInput } from '@baton/engine';
import { referenceIds, referenceModel } from '../support/reference.js';
import { extraResources, mib, settle, snapshot } from './support/resource-probe.js';
import { runSoak } from './support/soak-driver.js';

const REQUESTS = Number(process.env.BATON_SOAK_REQUESTS ?? 300);
const SCALE = Math.max(1, REQUESTS / 300);
const CONCURRENCY = 24;
const SEED = 20_240_9;
/** Heap (after GC) with the engine still open may exceed the warm start by this (it keeps up to 10,000 timing records). */
const OPEN_HEAP_MARGIN_BYTES = 24 * 2 ** 20;
/** Heap (after GC) once the engine is closed and dropped may exceed the pre-engine start by this. */
const CLOSED_HEAP_MARGIN_BYTES = 8 * 2 ** 20;
const REFERENCE_SAMPLE = 12;

/** Faults spread over the run (each rule fires once; restarts reset an actor's step count). */
const FAULTS: EngineOptionsInput = {
  handoffTimeoutMs: 500,
  stallTimeoutMs: 5_000,
  faults: {
    crashes: [
      { role: 'decode', index: 0, afterSteps: Math.round(40 * SCALE), kind: 'exit' },
      { role: 'decode', index: 1, afterSteps: Math.round(120 * SCALE), kind: 'throw' },
      { role: 'prefill', index: 0, afterSteps: Math.round(60 * SCALE), kind: 'throw' },
    ],
    dropHandoffEvery: 97,
  },
};

let engine: Engine | null = null;
afterEach(async () => {
  await engine?.close({ deadlineMs: 0 });
  engine = null;
});

describe(`soak: ${REQUESTS} mixed requests with random aborts and injected faults`, () => {
  it('loses nothing and leaves no KV, threads, handles or heap behind', { timeout: 120_000 * SCALE }, async () => {
    await referenceModel('baton-tiny');
    const start = await snapshot();
    // NOTE: the soak counts losses, not refusals: its 24 clients never overload the engine, but on a
    // busy machine the default bounded wait (queue.maxWaitMs) would turn slow prefills into refusals.
    engine = await createEngine({ model: 'baton-tiny', backend: 'wasm', mode: 'disaggregated', prefill: 1, decode: 2, queue: { maxWaitMs: null }, ...FAULTS });
    await Promise.all(Array.from({ length: 4 }, (_, i) => engine!.generate({ prompt: `warm ${i}`, maxTokens: 4 }).result));
    const warm = await snapshot();
    const warmTensors = tensorsByActor(await engine.stats());
    const t0 = performance.now();
    const tally = await runSoak(engine, { count: REQUESTS, concurrency: CONCURRENCY, seed: SEED, settleTimeoutMs: 60_000 });
    const seconds = (performance.now() - t0) / 1000;

    const stats = await idleStats(engine);
    const open = await snapshot();
    await engine.close();
    engine = null;
    const closed = await settle((s) => s.threads === start.threads && Object.keys(extraResources(start.resources, s.resources)).length === 0);

    console.log(
      [
        `soak: ${REQUESTS} requests in ${seconds.toFixed(1)} s (${(REQUESTS / seconds).toFixed(1)} req/s), concurrency ${CONCURRENCY}, seed ${SEED}`,
        `  behaviours ${JSON.stringify(tally.behaviours)}`,
        `  outcomes   ${JSON.stringify(tally.outcomes)}`,
        `  retried attempts ${stats.retried}; preemptions ${stats.actors.reduce((n, a) => n + a.preemptions, 0)}; errors ${JSON.stringify(tally.errors.slice(0, 3))}`,
        `  pool used ${stats.pool.used}; threads ${start.threads} -> ${closed.threads}; extra handles ${JSON.stringify(extraResources(start.resources, closed.resources))}`,
        `  heap ${mib(start.heapUsedBytes)} (start) / ${mib(warm.heapUsedBytes)} (warm) -> ${mib(open.heapUsedBytes)} (after soak, open) -> ${mib(closed.heapUsedBytes)} MiB (closed); RSS ${mib(start.rssBytes)} -> ${mib(closed.rssBytes)} MiB`,
      ].join('\n'),
    );

    expect(tally.outcomes.lost, 'requests that never settled').toBe(0);
    expect(tally.outcomes.overloaded).toBe(0);
    expect(tally.streamMismatches, 'streams with duplicated or missing tokens').toEqual([]);
    expect(tally.outcomes.invalid).toBe(tally.behaviours.invalid);
    expect(tally.outcomes.length + tally.outcomes.stop).toBeGreaterThan(REQUESTS / 2);
    expect(stats.retried, 'the injected faults made requests retry').toBeGreaterThan(0);

    expect(stats.active).toBe(0);
    expect(stats.pool.used).toBe(0);
    for (const a of stats.actors) expect({ actor: a.name, kv: a.kvBlocksUsed, running: a.running, queued: a.queueLength }).toEqual({ actor: a.name, kv: 0, running: 0, queued: 0 });
    // NOTE: tfjs tensor counts are checked when the actors report them (ServingActorStats has no such field yet).
    for (const [name, n] of tensorsByActor(stats)) expect(n, `${name} tfjs tensors`).toBeLessThanOrEqual(warmTensors.get(name) ?? n);
    expect(closed.threads).toBe(start.threads);
    expect(extraResources(start.resources, closed.resources)).toEqual({});
    expect(open.heapUsedBytes - warm.heapUsedBytes).toBeLessThan(OPEN_HEAP_MARGIN_BYTES);
    expect(closed.heapUsedBytes - start.heapUsedBytes).toBeLessThan(CLOSED_HEAP_MARGIN_BYTES);

    for (const g of tally.greedy.slice(0, REFERENCE_SAMPLE)) expect(g.ids).toEqual(await referenceIds('baton-tiny', g.prompt, g.maxTokens));
  });
});

/** tfjs tensors per actor, for actors that report a `tensors` count. */
function tensorsByActor(s: Awaited<ReturnType<Engine['stats']>>): Map<string, number> {
  const out = new Map<string, number>();
  for (const a of s.actors) {
    const n = (a as { tensors?: unknown }).tensors;
    if (typeof n === 'number') out.set(a.name, n);
  }
  return out;
}

/** Stats once every request has ended and the actors have released their KV (they do so asynchronously). */
async function idleStats(e: Engine): Promise<Awaited<ReturnType<Engine['stats']>>> {
  for (let i = 0; i < 250; i++) {
    const s = await e.stats();
    if (s.active === 0 && s.pool.used === 0 && s.actors.every((a) => a.kvBlocksUsed === 0 && a.running === 0 && a.queueLength === 0)) return s;
    await new Promise((r) => setTimeout(r, 20));
  }
  return e.stats();
}
