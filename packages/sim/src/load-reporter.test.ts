import { describe, expect, it } from 'vitest';
import { EventQueue } from './event-queue.js';
import { SimLoadReporter } from './load-reporter.js';
import { SIM_POLICY } from './sim-policy.js';
import { simulate } from './simulator.js';
import type { DecisionTrace } from './sim-cell.js';
import { constantStepTimes } from './step-times.js';

describe('SimLoadReporter (the engine LoadReporter throttle)', () => {
  it('sends at once past the interval, holds a trailing report inside it, and sends it when the interval ends outside a step', () => {
    const queue = new EventQueue();
    const got: Array<{ at: number; load: string }> = [];
    let inStep = false;
    const r = new SimLoadReporter<string>(queue, 0.5, () => inStep, (load, at) => got.push({ at, load }));
    const at = (t: number, f: () => void): void => queue.push(t, { fire: f });
    at(0, () => r.report(0, 'a', false)); // sent (first), delivered at 0.5
    at(1, () => r.report(1, 'b', false)); // trailing, timer at 5
    at(3, () => r.report(3, 'c', false)); // replaces b
    // timer at 5 (idle): sends c, delivered at 5.5
    at(6, () => r.report(6, 'd', false)); // trailing, timer at 10
    at(9, () => (inStep = true)); // a step runs over the timer: nothing sent at 10
    at(12, () => {
      inStep = false;
      r.report(12, 'e', false); // the step's own report, past the interval: sent
    });
    at(13, () => r.report(13, 'f', true)); // forced: sent inside the interval
    queue.run();
    expect(SIM_POLICY.reportIntervalMs).toBe(5);
    expect(got).toEqual([
      { at: 0.5, load: 'a' },
      { at: 5.5, load: 'c' },
      { at: 12.5, load: 'e' },
      { at: 13.5, load: 'f' },
    ]);
  });
});

describe('colocated routing on the scheduler\'s ledger', () => {
  it('a prompt that reached an actor during its step still counts there: the next request goes to the other actor', () => {
    // Prefill 20 ms, decode step 1 ms, no hops, no decision time. A (t=0) -> colocated-0 (tie), B
    // (t=1) -> colocated-1; both then decode, each reporting at its prefill's end and every 5 ms
    // after (colocated-0 at 20, 25, 30; colocated-1 at 21, 26, 31). C (t=29.5) ties -> colocated-0,
    // reaching it inside its step 29-30, whose report (sent at 30) cannot count C yet. The
    // scheduler counts C from its ledger, so D (t=35) sees 2 against 1 and goes to colocated-1:
    // prefill from its step's end at 36, first token at 56 (TTFT 21 ms), not behind C's prefill.
    const prompt = [1, 2, 3];
    const arrivals = [0, 1, 29.5, 35].map((arrivalMs, index) => ({ index, arrivalMs, promptIds: prompt, maxTokens: index < 2 ? 200 : 4 }));
    const decisions: DecisionTrace[] = [];
    const run = simulate({
      config: { mode: 'colocated', colocated: 2, schedulerCost: 'none', kv: { blockSize: 16 } },
      times: constantStepTimes({ prefillFixedMs: 20, decodeFixedMs: 1 }),
      arrivals,
      onDecision: (d) => decisions.push(d),
    });
    expect(decisions.map((d) => d.target)).toEqual(['colocated-0', 'colocated-1', 'colocated-0', 'colocated-1']);
    expect(decisions[3].prefillLoads.map((l) => l.queuedRequests)).toEqual([2, 1]);
    const ttft = new Map<number, number | null>();
    for (let i = 0; i < run.log.size; i++) ttft.set(run.log.at(i).index, run.log.at(i).ttftMs);
    expect(ttft.get(2)).toBeCloseTo(50 - 29.5, 9);
    expect(ttft.get(3)).toBeCloseTo(56 - 35, 9);
  });
});
