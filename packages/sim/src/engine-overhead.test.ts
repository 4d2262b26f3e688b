import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { fitLine, type EngineOverhead } from './engine-overhead.js';
import { engineCanLoad } from './engine-probe.js';
import { parseProfile, type Profile } from './profile.js';
import { simulate } from './simulator.js';
import { constantStepTimes, profileStepTimes } from './step-times.js';

const shipped = fileURLToPath(new URL('../profiles/h200-host-cpu16-baton-tiny-wasm.json', import.meta.url));
const engine: EngineOverhead = {
  pathMs: 1.5, prefillFixedMs: 2, prefillScale: 1.25, handoffMs: 0.75, decodeFixedMs: 0.2, decodePerSeqMs: 0.1,
  points: [{ kind: 'prefill', size: 32, context: 32, modelMs: 4, engineMs: 7 }],
};

describe('fitLine', () => {
  it('recovers an exact line', () => {
    const f = fitLine([1, 2, 4, 8].map((x) => ({ x, y: 3 + 0.5 * x })), 0);
    expect(f.fixed).toBeCloseTo(3, 9);
    expect(f.scale).toBeCloseTo(0.5, 9);
  });

  it('refits through the origin when the intercept would be negative', () => {
    const f = fitLine([{ x: 1, y: 0 }, { x: 2, y: 3 }, { x: 3, y: 6 }]);
    expect(f.fixed).toBe(0);
    expect(f.scale).toBeCloseTo((0 + 6 + 18) / (1 + 4 + 9), 9);
  });

  it('falls back to the given slope and the median offset when the slope is implausible', () => {
    expect(fitLine([{ x: 5, y: 9 }, { x: 5, y: 11 }, { x: 5, y: 10 }])).toEqual({ fixed: 5, scale: 1 });
    expect(fitLine([{ x: 1, y: 2 }, { x: 2, y: 1 }], 0, 0)).toEqual({ fixed: 2, scale: 0 });
    expect(fitLine([], 0, 0)).toEqual({ fixed: 0, scale: 0 });
  });
});

describe('the engine path in a profile', () => {
  const base = JSON.parse(readFileSync(shipped, 'utf8')) as Record<string, unknown>;

  it('parses it and names a bad field', () => {
    expect(parseProfile({ ...base, engine }).engine).toEqual(engine);
    expect(() => parseProfile({ ...base, engine: { ...engine, handoffMs: -1 } })).toThrow(/engine\.handoffMs/);
    expect(() => parseProfile({ ...base, engine: { ...engine, prefillScale: 0 } })).toThrow(/engine\.prefillScale/);
    expect(() => parseProfile({ ...base, engine: { ...engine, points: [{ ...engine.points[0], kind: 'x' }] } })).toThrow(/engine\.points\[0\]\.kind/);
  });

  it('charges it in the step times, and only the model calls with engine: false', () => {
    const p: Profile = parseProfile({ ...base, engine });
    const plain = profileStepTimes(p, { engine: false });
    const with_ = profileStepTimes(p);
    expect(with_.prefillMs(256, 0)).toBeCloseTo(1.25 * plain.prefillMs(256, 0), 9);
    expect(with_.decodeMs(8, 8 * 256)).toBeCloseTo(plain.decodeMs(8, 8 * 256) + 0.8, 9);
    expect(with_.stepOverheadMs).toBe(0.2);
    expect(with_.prefillStepOverheadMs).toBe(0);
    expect(with_).toMatchObject({ promptOverheadMs: 2, pathMs: 1.5, handoffMs: 0.75 });
    expect(plain).toMatchObject({ promptOverheadMs: 0, pathMs: 0, handoffMs: 0, stepOverheadMs: p.stepOverheadMs ?? 0, prefillStepOverheadMs: p.stepOverheadMs ?? 0 });
  });

  it('a lone request pays the path, the prompt cost and the handoff latency (closed form)', () => {
    const hop = 0.1;
    const run = simulate({
      config: { mode: 'disaggregated', prefill: 1, decode: 1, schedulerCost: 'none' },
      times: constantStepTimes({ prefillFixedMs: 5, decodeFixedMs: 2, transferMs: 0.5, hopMs: hop, pathMs: 1.5, promptOverheadMs: 2, handoffMs: 0.75, stepOverheadMs: 0.25, prefillStepOverheadMs: 0 }),
      arrivals: [{ index: 0, arrivalMs: 0, promptIds: [1, 2, 3], maxTokens: 11 }],
    });
    const r = run.log.at(0);
    // arrival -> (hop + path) -> scheduler -> hop -> prefill (5 + 2 per prompt).
    expect(r.ttftMs).toBeCloseTo(hop + 1.5 + hop + 5 + 2, 9);
    // first token -> (hop + handoff) -> KV load -> 10 decode steps of 2 + 0.25.
    expect(r.tpotMs).toBeCloseTo((hop + 0.75 + 0.5 + 10 * 2.25) / 10, 9);
  });

  it('colocated and chunked prompts pay the prompt cost once', () => {
    for (const mode of ['colocated', 'chunked'] as const) {
      const run = simulate({
        config: { mode, colocated: 1, schedulerCost: 'none', prefillChunkSize: 128, tokenBudget: 512 },
        times: constantStepTimes({ prefillFixedMs: 4, decodeFixedMs: 1, promptOverheadMs: 3 }),
        arrivals: [{ index: 0, arrivalMs: 0, promptIds: Array.from({ length: 300 }, (_, i) => i), maxTokens: 2 }],
      });
      // prefill-first: one step of 3 chunks (3 × 4) + 3; chunked: three steps (4, 4, 4 + 3), no decode beside them.
      expect(run.log.at(0).ttftMs).toBeCloseTo(15, 9);
    }
  });

  it('the probe runs only models the engine can load by name', () => {
    expect(engineCanLoad('baton-tiny')).toBe(true);
    expect(engineCanLoad('/models/gpt2')).toBe(true);
    expect(engineCanLoad('baton-3x64')).toBe(false);
  });
});
