import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { disturbedPrefill, fitDecodeOverhead, fitLine, fitPrefillOverhead, refitDecodeOverhead, refitEngineOverhead, type EngineOverhead, type OverheadPoint } from './engine-overhead.js';
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

/** Decode cases with extra time `extra` at batch `size` (model 1 ms at every context). */
function decodeCases(cases: ReadonlyArray<[size: number, extra: number]>): OverheadPoint[] {
  return cases.map(([size, extra], i) => ({ kind: 'decode', size, context: 44 + 100 * i, modelMs: 1, engineMs: 1 + extra }));
}

describe('fitDecodeOverhead', () => {
  // NOTE: the engine's decode path: 0.1 ms per step + 0.25 ms per sequence; one of the four lone
  // cases at batch 1 was disturbed (+2 ms), as on the 16-core GPU host's probe.
  const disturbed = decodeCases([[1, 0.35], [1, 0.35], [1, 0.35], [1, 2.35], [8, 2.1]]);

  it('leaves out a case far off the other cases at its batch size', () => {
    const f = fitDecodeOverhead(disturbed);
    expect(f.fixed).toBeCloseTo(0.1, 9);
    expect(f.scale).toBeCloseTo(0.25, 9);
    // Least squares over every case goes through the batch-1 MEAN: 0.85 ms at batch 1, not 0.35.
    const all = fitLine(disturbed.map((p) => ({ x: p.size, y: p.engineMs - p.modelMs })), 0, 0);
    expect(all.fixed + all.scale).toBeCloseTo(0.85, 9);
  });

  it('keeps the ordinary spread of cases (it is least squares over all of them then)', () => {
    const spread = decodeCases([[1, 0.59], [1, 0.39], [1, 0.67], [1, 0.69], [4, 0.39], [8, 0.33], [16, 1.39]]);
    expect(fitDecodeOverhead(spread)).toEqual(fitLine(spread.map((p) => ({ x: p.size, y: p.engineMs - p.modelMs })), 0, 0));
    // A batch size measured once or twice has no peers to be judged by.
    const few = decodeCases([[1, 0.3], [1, 3], [8, 2.1]]);
    expect(fitDecodeOverhead(few)).toEqual(fitLine(few.map((p) => ({ x: p.size, y: p.engineMs - p.modelMs })), 0, 0));
  });

  it('fits the mean gaps where the probe kept them (what a TPOT averages)', () => {
    // Medians on 0.1 + 0.25 x batch; means 0.05 ms more per sequence (a skewed step time).
    const cases = decodeCases([[1, 0.35], [1, 0.35], [4, 1.1], [8, 2.1]]).map((p) => ({ ...p, engineMeanMs: p.engineMs + 0.05 * p.size }));
    const f = fitDecodeOverhead(cases);
    expect(f.fixed).toBeCloseTo(0.1, 9);
    expect(f.scale).toBeCloseTo(0.3, 9);
  });

  it('refits a recorded profile and moves its handoff latency by the change at batch 1', () => {
    const all = fitLine(disturbed.map((p) => ({ x: p.size, y: p.engineMs - p.modelMs })), 0, 0);
    const recorded: EngineOverhead = { ...engine, decodeFixedMs: all.fixed, decodePerSeqMs: all.scale, handoffMs: 0.75, points: disturbed };
    const r = refitDecodeOverhead(recorded);
    expect(r.decodeFixedMs).toBeCloseTo(0.1, 9);
    expect(r.decodePerSeqMs).toBeCloseTo(0.25, 9);
    expect(r.handoffMs).toBeCloseTo(0.75 + 0.85 - 0.35, 9);
    expect(refitDecodeOverhead(engine)).toBe(engine);
  });
});

/** Prefill cases: model ms → engine ms. */
function prefillCases(cases: ReadonlyArray<[modelMs: number, engineMs: number]>): OverheadPoint[] {
  return cases.map(([modelMs, engineMs], i) => ({ kind: 'prefill', size: 32 << (2 * i), context: 32 << (2 * i), modelMs, engineMs }));
}

describe('fitPrefillOverhead', () => {
  // NOTE: the engine's prefill: 1 ms + x1.05 the model calls; the 512-token case of a quick probe
  // (the mean of two repetitions, one stalled) came out at 112 ms, as on the 2-core VM.
  const disturbed = prefillCases([[4, 5.2], [14, 15.7], [29, 31.45], [64, 112]]);

  it('leaves out a case far above the line through the others', () => {
    expect(disturbedPrefill(disturbed)).toEqual([disturbed[3]]);
    const f = fitPrefillOverhead(disturbed);
    expect(f.fixed).toBeCloseTo(1, 9);
    expect(f.scale).toBeCloseTo(1.05, 9);
    // Least squares over all four: a slope far above every kept case's.
    expect(fitLine(disturbed.map((p) => ({ x: p.modelMs, y: p.engineMs }))).scale).toBeGreaterThan(1.5);
  });

  it('keeps cases whose extra grows with the model calls (a scale, not a stall)', () => {
    // The 16-core Xeon's probe: x1.31-1.43 at every length.
    const proportional = prefillCases([[7.19, 10.29], [23.17, 31.99], [47.04, 65.73], [107.34, 140.44]]);
    expect(disturbedPrefill(proportional)).toEqual([]);
    expect(fitPrefillOverhead(proportional)).toEqual(fitLine(proportional.map((p) => ({ x: p.modelMs, y: p.engineMs }))));
    // Two cases are too few to judge either.
    expect(disturbedPrefill(disturbed.slice(2))).toEqual([]);
  });

  it('refits a recorded profile only when it leaves a case out', () => {
    const all = fitLine(disturbed.map((p) => ({ x: p.modelMs, y: p.engineMs })));
    const recorded: EngineOverhead = { ...engine, prefillFixedMs: all.fixed, prefillScale: all.scale, points: disturbed };
    const r = refitEngineOverhead(recorded);
    expect(r.prefillFixedMs).toBeCloseTo(1, 9);
    expect(r.prefillScale).toBeCloseTo(1.05, 9);
    expect(r.pathMs).toBe(recorded.pathMs);
    expect(refitEngineOverhead(engine)).toEqual(engine);
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

  it('a lone request on one decode instance: TPOT from the refitted step (closed form)', () => {
    // Model calls: every decode step 1 ms; KV load 0.5 ms; one hop 0.1 ms; no co-run model.
    const decode = [1, 8].flatMap((batch) => [32, 512].map((context) => ({ batch, context, ms: 1 })));
    const { coRun: _drop, ...rest } = base;
    const disturbed = decodeCases([[1, 0.35], [1, 0.35], [1, 0.35], [1, 2.35], [8, 2.1]]);
    const all = fitLine(disturbed.map((p) => ({ x: p.size, y: p.engineMs - p.modelMs })), 0, 0);
    const p = parseProfile({
      ...rest, decode, transfer: { fixedMs: 0.5, msPerToken: 0 }, hopMs: 0.1,
      engine: { ...engine, decodeFixedMs: all.fixed, decodePerSeqMs: all.scale, handoffMs: 0.75, points: [...engine.points, ...disturbed] },
    });
    const run = simulate({ config: { mode: 'disaggregated', prefill: 1, decode: 1, schedulerCost: 'none' }, times: profileStepTimes(p), arrivals: [{ index: 0, arrivalMs: 0, promptIds: [1, 2, 3], maxTokens: 11 }] });
    // first -> second token as the probe measured it: hop + 0.75 + KV load + a step as recorded
    // (1 + 0.85); then 9 steps of 1 + 0.1 + 0.25.
    const step = 1 + 0.1 + 0.25;
    const gap = 0.1 + 0.75 + 0.5 + (1 + 0.85);
    expect(run.log.at(0).tpotMs).toBeCloseTo((gap + 9 * step) / 10, 9);
  });

  it('the probe runs only models the engine can load by name', () => {
    expect(engineCanLoad('baton-tiny')).toBe(true);
    expect(engineCanLoad('/models/gpt2')).toBe(true);
    expect(engineCanLoad('baton-3x64')).toBe(false);
  });
});
