import { afterEach, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '@baton/engine';
import { calibrate, calibrationLengths, medianPrompt } from './calibration.js';
import { generateWorkload } from './workload.js';

// A real engine (worker threads run the built dist/: build the packages first).
describe('calibrate', () => {
  let engine: Engine | null = null;
  afterEach(async () => {
    await engine?.close({ deadlineMs: 1_000 });
    engine = null;
  });

  it('measures TTFT per prompt length and one TPOT, one request at a time', async () => {
    engine = await createEngine({ mode: 'colocated', colocated: 1, backend: 'wasm', model: 'baton-tiny' });
    const ref = await calibrate(engine, { promptTokens: [24, 8, 24], repeats: 2, outputTokens: 4 });
    expect(ref.ttft.map((p) => p.promptTokens)).toEqual([8, 24]);
    for (const p of ref.ttft) expect(p.ttftMs).toBeGreaterThan(0);
    expect(ref.tpotMs).toBeGreaterThan(0);
    const stats = await engine.stats();
    expect(stats.completed).toBe(4);
  }, 60_000);

  it('takes lengths from the workload', () => {
    const w = generateWorkload({ mix: 'chat', count: 50, seed: 1 });
    const lengths = calibrationLengths(w);
    expect(lengths).toEqual([...lengths].sort((a, b) => a - b));
    expect(lengths[lengths.length - 1]).toBe(Math.max(...w.requests.map((r) => r.promptIds.length)));
    expect(lengths).toContain(medianPrompt(w));
  });
});
