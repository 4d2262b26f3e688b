import { describe, expect, it } from 'vitest';
import { simulate } from './simulator.js';
import { constantStepTimes } from './step-times.js';

describe('decode stalls', () => {
  const arrivals = [{ index: 0, arrivalMs: 0, promptIds: [1, 2, 3], maxTokens: 2001 }];
  const run = (probability: number) => simulate({
    config: { mode: 'disaggregated', prefill: 1, decode: 1, schedulerCost: 'none' },
    times: constantStepTimes({ prefillFixedMs: 1, decodeFixedMs: 1, decodeStall: { probability, ms: 10 } }),
    arrivals,
  });

  it('adds the stall time to the profile share of decode steps, the same steps every run', () => {
    const a = run(0.1).log.at(0).tpotMs as number;
    expect(a).toBeGreaterThan(1 + 0.1 * 10 * 0.8);
    expect(a).toBeLessThan(1 + 0.1 * 10 * 1.2);
    expect(run(0.1).log.at(0).tpotMs).toBe(a);
  });

  it('adds nothing at probability 0', () => {
    expect(run(0).log.at(0).tpotMs).toBeCloseTo(1, 9);
  });
});
