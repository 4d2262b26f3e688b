import { describe, expect, it } from 'vitest';
import { arrivalTimes, atRate, generateWorkload } from '@baton/bench';
import { createRng } from '@baton/model';
import { simulate } from './simulator.js';
import { constantStepTimes } from './step-times.js';
import { SimOptionsError } from './sim-errors.js';
import type { SimArrival } from './sim-request.js';

/** `count` one-token requests with Poisson arrivals at `rate` per second. */
function poissonOneToken(count: number, rate: number, seed: number): SimArrival[] {
  const prompt = Array.from({ length: 16 }, (_, i) => i);
  return arrivalTimes(count, { kind: 'poisson' }, createRng(seed)).map((t, index) => ({ index, arrivalMs: t / rate, promptIds: prompt, maxTokens: 1 }));
}

function meanWait(run: ReturnType<typeof simulate>, serviceMs: number): number {
  let sum = 0;
  for (let i = 0; i < run.log.size; i++) sum += (run.log.at(i).ttftMs as number) - serviceMs;
  return sum / run.log.size;
}

describe('closed-form cases', () => {
  it.each([0.5, 0.7])('one prefill instance with fixed service time is M/D/1: mean wait = ρ / (2μ(1 − ρ)) at ρ = %s', (rho) => {
    const serviceMs = 10;
    const rate = (rho * 1000) / serviceMs;
    const arrivals = poissonOneToken(40_000, rate, 7);
    // NOTE: the same prefill time for every prompt, no hops, no scheduler cost; 16-token prompts in
    // 32-token blocks leave no full block, so the prefix cache never shortens a prefill.
    const run = simulate({
      config: { mode: 'disaggregated', prefill: 1, decode: 1, schedulerCost: 'none', kv: { blockSize: 32, numBlocks: 4096 } },
      times: constantStepTimes({ prefillFixedMs: serviceMs }),
      arrivals,
    });
    expect(run.log.size).toBe(40_000);
    const mu = 1 / serviceMs;
    const theory = rho / (2 * mu * (1 - rho));
    expect(Math.abs(meanWait(run, serviceMs) - theory) / theory).toBeLessThan(0.06);
  });

  it('a lone request takes hops + prefill to its first token and one decode step per further token', () => {
    const hop = 0.1;
    const run = simulate({
      config: { mode: 'disaggregated', prefill: 1, decode: 1, schedulerCost: 'none' },
      times: constantStepTimes({ prefillFixedMs: 5, decodeFixedMs: 2, transferMs: 0.5, hopMs: hop }),
      arrivals: [{ index: 0, arrivalMs: 0, promptIds: [1, 2, 3], maxTokens: 11 }],
    });
    const r = run.log.at(0);
    // arrival -> scheduler -> prefill: two hops; then the prefill.
    expect(r.ttftMs).toBeCloseTo(2 * hop + 5, 9);
    // first token -> `prefilled` hop -> KV load -> 10 decode steps.
    expect(r.tpotMs).toBeCloseTo((hop + 0.5 + 10 * 2) / 10, 9);
  });

  it('charges the actor step overhead once per step', () => {
    const run = simulate({
      config: { mode: 'disaggregated', prefill: 1, decode: 1, schedulerCost: 'none' },
      times: constantStepTimes({ prefillFixedMs: 5, decodeFixedMs: 2, stepOverheadMs: 0.25 }),
      arrivals: [{ index: 0, arrivalMs: 0, promptIds: [1, 2, 3], maxTokens: 11 }],
    });
    const r = run.log.at(0);
    expect(r.ttftMs).toBeCloseTo(5.25, 9);
    expect(r.tpotMs).toBeCloseTo(2.25, 9);
  });

  it('a prompt that cannot get KV does not hold back a shorter one behind it (the engine rule)', () => {
    // One shared pool of 4 blocks of 16 tokens. The first request's 3 blocks stay held while it
    // decodes; the 60-token prompt behind it needs all 4 and waits, the 10-token one after it needs
    // 1 and is prefilled at once in the next step.
    const prompt = (n: number, base: number): number[] => Array.from({ length: n }, (_, i) => base + i);
    const arrivals = [
      { index: 0, arrivalMs: 0, promptIds: prompt(40, 0), maxTokens: 5 },
      { index: 1, arrivalMs: 0.001, promptIds: prompt(60, 100), maxTokens: 1 },
      { index: 2, arrivalMs: 0.002, promptIds: prompt(10, 200), maxTokens: 1 },
    ];
    const run = simulate({
      config: { mode: 'disaggregated', prefill: 1, decode: 1, schedulerCost: 'none', kv: { blockSize: 16, numBlocks: 4, scope: 'shared' } },
      times: constantStepTimes({ prefillFixedMs: 10, decodeFixedMs: 1 }),
      arrivals,
    });
    const ttft: number[] = [];
    for (let i = 0; i < run.log.size; i++) ttft[run.log.at(i).index] = run.log.at(i).ttftMs as number;
    expect(ttft[0]).toBeCloseTo(10, 6);
    expect(ttft[2]).toBeCloseTo(20, 2);
    expect(ttft[1]).toBeGreaterThan(ttft[2]);
    expect(run.summary(null).outcomes.finished).toBe(3);
  });

  it('a decode batch of n fixed-cost sequences advances together: TPOT = step time', () => {
    const arrivals = Array.from({ length: 8 }, (_, index) => ({ index, arrivalMs: 0, promptIds: [index, 1, 2], maxTokens: 50 }));
    const run = simulate({
      config: { mode: 'colocated', colocated: 1, schedulerCost: 'none' },
      times: constantStepTimes({ prefillFixedMs: 1, decodeFixedMs: 3, decodeMsPerSeq: 0.5 }),
      arrivals,
    });
    // All 8 prompts are prefilled one after another in one prefill-first step (first tokens at
    // 1..8 ms), then 49 decode steps of all 8 run at 3 + 8 × 0.5 = 7 ms each.
    for (let k = 0; k < 8; k++) expect(run.log.at(k).tpotMs).toBeCloseTo((8 + 49 * 7 - (k + 1)) / 49, 9);
  });
});

describe('determinism and accounting', () => {
  const times = constantStepTimes({ prefillFixedMs: 3, prefillMsPerToken: 0.3, decodeFixedMs: 2, decodeMsPerSeq: 0.2, transferMs: 0.4, hopMs: 0.05, schedulerUs: 15 });

  it.each(['disaggregated', 'colocated', 'chunked'] as const)('%s: the same seed gives the same run', (mode) => {
    const w = generateWorkload({ mix: 'chat', count: 200, seed: 11 });
    const once = (): string => {
      const run = simulate({ config: { mode, prefill: 2, decode: 2, colocated: 4 }, times, arrivals: atRate(w, 12) });
      return JSON.stringify(Array.from({ length: run.log.size }, (_, i) => run.log.at(i)));
    };
    expect(once()).toBe(once());
  });

  it('a small KV pool preempts and recomputes, and every request still gets all its tokens', () => {
    const w = generateWorkload({ mix: 'generate', count: 60, seed: 5 });
    const run = simulate({ config: { mode: 'disaggregated', prefill: 1, decode: 1, kv: { blockSize: 16, numBlocks: 120 } }, times, arrivals: atRate(w, 30) });
    const s = run.summary(null);
    expect(s.outcomes.finished).toBe(60);
    expect(run.instances.find((i) => i.id === 'decode-0')?.preemptions).toBeGreaterThan(0);
  });

  it('queue bounds reject as the engine admission does', () => {
    const w = generateWorkload({ mix: 'summarize', count: 100, seed: 2 });
    const run = simulate({ config: { mode: 'disaggregated', queue: { maxRequests: 4 } }, times, arrivals: atRate(w, 200) });
    const s = run.summary(null);
    expect(s.outcomes.rejected).toBeGreaterThan(0);
    expect(s.outcomes.rejected + s.outcomes.finished).toBe(100);
    expect(run.scheduler.rejected).toBe(s.outcomes.rejected);
  });

  it('rejects bad options with a typed error naming the option', () => {
    expect(() => simulate({ config: { prefillChunkSize: 1024, tokenBudget: 512 }, times, arrivals: [] })).toThrow(SimOptionsError);
    expect(() => simulate({ config: { maxBatch: 0 }, times, arrivals: [] })).toThrow(/maxBatch/);
  });
});
