/**
 * Overload: Baton (baton-tiny, wasm, disaggregated 1P/1D, with an SLO) offered 10x its
 * sustainable rate. Rejected requests must get OverloadedError at once: a rejection does not wait
 * for capacity, so (counted, not timed) most rejections come back before any other request has
 * completed, while an accepted request sees others complete during its service. Accepted ones
 * still complete (none lost, none failed) and meet the SLO (asserted in the full run); memory stays
 * bounded (heap back near its start after GC, peak growth bounded); the engine serves normally
 * afterwards with no KV block in use. Latency figures (rejection p50/p99, JCT) are printed, never
 * asserted: on a busy machine they measure the neighbours as much as Baton.
 *
 * In the suite the overload lasts OVERLOAD_MS (a bounded fraction of a minute) against a
 * quick closed-loop capacity estimate (10x that is at least 10x the sustainable rate). With
 * BATON_OVERLOAD_FULL=1 (`npm run reliability:overload`) it first searches the sustainable rate
 * (goodput: >= 90% of offered requests within the SLO), then offers 10x that for a full minute;
 * the figures go to RELIABILITY.md.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createEngine, type Engine, type GenerateRequest, type SloTargets } from '@baton/engine';
import { closedLoopCapacity, searchSustainableRate, type RateProbe } from './support/capacity.js';
import { loadFigures, offerLoad } from './support/offered-load.js';
import { mib, snapshot } from './support/resource-probe.js';
import type { Rng } from './support/seeded-rng.js';

const FULL = process.env.BATON_OVERLOAD_FULL === '1';
const OVERLOAD_MS = FULL ? 60_000 : 5_000;
const SLO: SloTargets = { ttftMs: 250, tpotMs: 25 };
const MAX_TOKENS = 16;
const SEED = 9;
/** Heap (after GC) may end this much above where the overload started (engine keeps recent timing records). */
const HEAP_MARGIN_BYTES = 32 * 2 ** 20;
/** Peak RSS during the overload may exceed the start by at most this much. */
const RSS_PEAK_MARGIN_BYTES = 256 * 2 ** 20;

/** The fixed workload: 24–40 printable bytes of prompt, 16 greedy output tokens. */
function workload(i: number, rng: Rng): GenerateRequest {
  const len = rng.int(24, 40);
  return { prompt: Array.from({ length: len }, () => rng.int(32, 126)), maxTokens: MAX_TOKENS, id: `load-${i}` };
}

let engine: Engine | null = null;
afterEach(async () => {
  await engine?.close({ deadlineMs: 0 });
  engine = null;
});

describe('overload at 10x the sustainable rate', () => {
  it('rejects at once with OverloadedError, loses nothing, keeps memory bounded and serves accepted requests within the SLO', { timeout: FULL ? 400_000 : 90_000 }, async () => {
    engine = await createEngine({ model: 'baton-tiny', backend: 'wasm', mode: 'disaggregated', prefill: 1, decode: 1, slo: SLO });
    const e = engine;
    let k = 0;
    const quick = (): GenerateRequest => ({ prompt: 'warm up the actors '.repeat(2), maxTokens: MAX_TOKENS, id: `warm-${k++}` });
    const capacity = await closedLoopCapacity(e, { concurrency: 16, durationMs: FULL ? 5_000 : 1_500, request: quick });
    let sustainable = capacity;
    let probes: RateProbe[] = [];
    if (FULL) {
      ({ ratePerSec: sustainable, probes } = await searchSustainableRate({
        engine: e, slo: SLO, upperPerSec: capacity, probeMs: 8_000, steps: 6, seed: SEED, request: workload,
      }));
    }
    const rate = 10 * sustainable;

    const before = await snapshot();
    let peakRss = before.rssBytes;
    let peakHeap = before.heapUsedBytes;
    const samples: Array<{ rss: number; heap: number }> = [];
    const run = await offerLoad({
      engine: e, ratePerSec: rate, durationMs: OVERLOAD_MS, seed: SEED, request: workload,
      onTick: () => {
        const m = process.memoryUsage();
        samples.push({ rss: m.rss, heap: m.heapUsed });
        peakRss = Math.max(peakRss, m.rss);
        peakHeap = Math.max(peakHeap, m.heapUsed);
      },
    });
    const after = await snapshot();
    const f = loadFigures(run, SLO, OVERLOAD_MS);
    const thirds = [0, 1, 2].map((t) => samples.slice(Math.floor((t * samples.length) / 3), Math.floor(((t + 1) * samples.length) / 3)));
    const peakOf = (xs: typeof samples): string => mib(Math.max(0, ...xs.map((x) => x.heap)));
    console.log(
      [
        `overload (${FULL ? 'full' : 'suite'}): closed-loop capacity ${capacity.toFixed(1)} req/s; sustainable ${sustainable.toFixed(1)} req/s; offered ${f.offeredPerSec.toFixed(1)} req/s for ${OVERLOAD_MS / 1000} s`,
        ...probes.map((p) => `  probe ${p.ratePerSec.toFixed(1)} req/s: offered attainment ${(p.offeredAttainment * 100).toFixed(1)}%, accepted ${(p.acceptedAttainment * 100).toFixed(1)}%`),
        `  offered ${run.offered}, completed ${run.completed.length} (${(f.acceptedShare * 100).toFixed(1)}%), rejected ${run.rejectionMs.length}, failed ${run.failures.length}, lost 0`,
        `  rejection latency p50 ${f.rejectionP50Ms?.toFixed(2)} ms, p99 ${f.rejectionP99Ms?.toFixed(2)} ms; accepted JCT p50 ${f.jctP50Ms?.toFixed(1)} ms`,
        `  other requests completed while waiting: rejected p50 ${f.rejectionWaitP50} (p99 ${f.rejectionWaitP99}), accepted p50 ${f.completionWaitP50}`,
        `  accepted SLO attainment ${(f.acceptedAttainment * 100).toFixed(1)}%; goodput ${f.goodputPerSec.toFixed(1)} req/s (${((f.goodputPerSec / sustainable) * 100).toFixed(0)}% of sustainable); TTFT p99 ${f.ttftP99Ms?.toFixed(1)} ms, TPOT p99 ${f.tpotP99Ms?.toFixed(2)} ms`,
        `  heap after GC ${mib(before.heapUsedBytes)} -> ${mib(after.heapUsedBytes)} MiB (peak ${mib(peakHeap)}; peak by thirds ${thirds.map(peakOf).join(' / ')}); RSS ${mib(before.rssBytes)} -> ${mib(after.rssBytes)} MiB (peak ${mib(peakRss)})`,
      ].join('\n'),
    );

    expect(run.failures, 'requests that failed instead of completing or being rejected').toEqual([]);
    expect(run.completed.length + run.rejectionMs.length).toBe(run.offered);
    expect(run.rejectionMs.length / run.offered).toBeGreaterThan(0.5);
    expect(run.completed.length).toBeGreaterThan(0);
    // "At once", counted in completions rather than milliseconds: a rejection that waited for
    // capacity would see at least one request complete first; at least half see none. An accepted
    // request does see others complete (the engine serves several at once), so the count is not
    // trivially zero.
    expect(f.rejectionWaitP50!, 'median number of requests that completed while a rejection was pending').toBeLessThan(1);
    expect(f.completionWaitP50!, 'median number of requests that completed while an accepted one was served').toBeGreaterThanOrEqual(1);
    expect(after.heapUsedBytes - before.heapUsedBytes).toBeLessThan(HEAP_MARGIN_BYTES);
    expect(peakRss - before.rssBytes).toBeLessThan(RSS_PEAK_MARGIN_BYTES);

    const stats = await e.stats();
    expect(stats.active).toBe(0);
    expect(stats.pool.used).toBe(0);
    const after1 = await e.generate({ prompt: 'still serving?', maxTokens: 4 }).result;
    expect(after1.finishReason).toBe('length');
    // NOTE: attainment is asserted only in the full run (a minute at a searched rate), and last, so
    // the checks above still run when it fails: a 5 s burst on a shared 2-core machine measures the
    // neighbours as much as Baton. The suite prints it.
    if (FULL) expect(f.acceptedAttainment, 'SLO attainment of accepted requests').toBeGreaterThanOrEqual(0.9);
  });
});
