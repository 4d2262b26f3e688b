import { afterEach, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '@baton/engine';
import { runAtRate } from './runner.js';
import { atRate, generateWorkload } from './workload.js';

// One tiny real run through the engine's worker threads (needs the packages built: npm test builds first).
describe('runAtRate (real engine)', () => {
  let engine: Engine | null = null;
  afterEach(async () => {
    await engine?.close({ deadlineMs: 1_000 });
    engine = null;
  });

  it('sends 3 requests at their arrival times and records every one', async () => {
    const startMs = performance.timeOrigin + performance.now();
    // NOTE: baton-tiny (random weights, no end-of-text id) always runs to maxTokens; the trained default may stop early.
    engine = await createEngine({ mode: 'colocated', colocated: 1, backend: 'wasm', model: 'baton-tiny' });
    const workload = generateWorkload({ mix: 'chat', count: 3, seed: 1 });
    const requests = atRate(workload, 20).map((r) => ({ ...r, promptIds: r.promptIds.slice(0, 24), maxTokens: 4 }));
    const progress: number[] = [];
    const run = await runAtRate({
      engine, mode: 'colocated', rate: 20, requests, slo: { ttftMs: 60_000, tpotMs: 60_000 }, engineStartMs: startMs,
      onProgress: (p) => progress.push(p.done),
    });
    expect(run.records).toHaveLength(3);
    expect(run.records.map((r) => r.index)).toEqual([0, 1, 2]);
    for (const r of run.records) {
      expect(r.outcome).toBe('finished');
      expect(r.tokenTimesMs).toHaveLength(4);
      expect(r.tokenTimesMs[0]).toBeGreaterThanOrEqual(r.arrivalMs);
      expect(r.mode).toBe('colocated');
    }
    expect(run.attainment).toBe(1);
    expect(run.stoppedEarly).toBe(false);
    expect(run.summary.requests).toBe(3);
    expect(run.summary.outputTokens).toBe(12);
    expect(run.summary.ttftMs.count).toBe(3);
    expect(run.actors.map((a) => a.role)).toEqual(['colocated']);
    // An impossible SLO: nothing attains it.
    const strict = await runAtRate({ engine, mode: 'colocated', rate: 20, requests, slo: { ttftMs: 1e-6, tpotMs: 1e-6 }, engineStartMs: startMs });
    expect(strict.attainment).toBe(0);
  }, 60_000);
});
