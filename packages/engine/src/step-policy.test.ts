import { describe, expect, it } from 'vitest';
import type { DecodeLoad, PrefillLoad } from './scheduler-policy.js';
import { bestDecodeTpotMs, chunkTokens, colocatedRoutingLoad, leastLoadedDecode, leastOutstanding, pooledRate, NEAR_FINISH_BLOCKS, PREEMPT_GRACE_TOKENS, preemptionVictim, queueTotals, takesPrompt, toDecodePrediction, type VictimView } from './step-policy.js';
import { LengthPredictor } from './length-predictor.js';

const prefill = (id: string, queuedRequests: number, queuedPromptTokens: number): PrefillLoad => ({ id, queuedRequests, queuedPromptTokens, tokensPerSecond: 1000 });
const decode = (id: string, running: number, queued: number, stepMs: number | null): DecodeLoad => ({
  id, running, queued, freeKvBlocks: 10, totalKvBlocks: 10, predictedLongRunning: 0, stepMs,
});

describe('step policy', () => {
  it('takes the first prompt whatever its size, later ones within the budget, none as long as a refused one', () => {
    expect(takesPrompt(900, { budget: 512, taken: 0, blockedAt: Infinity })).toBe(true);
    expect(takesPrompt(300, { budget: 200, taken: 1, blockedAt: Infinity })).toBe(false);
    expect(takesPrompt(200, { budget: 200, taken: 1, blockedAt: Infinity })).toBe(true);
    expect(takesPrompt(100, { budget: 512, taken: 0, blockedAt: 100 })).toBe(false);
    expect(takesPrompt(99, { budget: 512, taken: 0, blockedAt: 100 })).toBe(true);
  });

  it('sizes a chunked step to the budget left after the decodes, the chunk size and the prompt left', () => {
    const limits = { tokenBudget: 512, chunkSize: 256 };
    expect(chunkTokens(limits, 10, 1000)).toBe(256);
    expect(chunkTokens(limits, 300, 1000)).toBe(212);
    expect(chunkTokens(limits, 10, 40)).toBe(40);
    expect(chunkTokens(limits, 600, 40)).toBe(0);
    expect(chunkTokens(limits, 10, 0)).toBe(0);
  });

  it('weighs prefill candidates at the median of their throughputs', () => {
    const at = (id: string, tokensPerSecond: number): PrefillLoad => ({ ...prefill(id, 0, 0), tokensPerSecond });
    expect(pooledRate([at('a', 100), at('b', 900), at('c', 300)]).map((l) => l.tokensPerSecond)).toEqual([300, 300, 300]);
    expect(pooledRate([at('a', 100), at('b', 300)]).map((l) => l.tokensPerSecond)).toEqual([200, 200]);
    expect(pooledRate([])).toEqual([]);
  });

  it('preempts the sequence with most left to produce, never a short or just-resumed one while another can go', () => {
    type Seq = { id: string } & VictimView;
    const seq = (id: string, remainingTokens: number, blocksToFinish: number, tokensSinceResume: number | null = null): Seq => ({ id, remainingTokens, blocksToFinish, tokensSinceResume });
    const pick = (running: Seq[]): string | undefined => preemptionVictim(running, (r) => r)?.id;
    const longA = seq('longA', 500, 32);
    const longB = seq('longB', 700, 44);
    const short = seq('short', 8, 1);
    // The new short request is the youngest, yet the long request with most left goes.
    expect(pick([longA, longB, short])).toBe('longB');
    // Ties go to the youngest.
    expect(pick([longA, seq('longA2', 500, 32), short])).toBe('longA2');
    // A sequence resumed within the grace window is spared while another can go; after it, not.
    expect(pick([longA, seq('resumed', 900, 56, PREEMPT_GRACE_TOKENS - 1), short])).toBe('longA');
    expect(pick([longA, seq('resumed', 900, 56, PREEMPT_GRACE_TOKENS), short])).toBe('resumed');
    // Only sequences near their end or in grace: the grace one goes before a nearly finished one.
    expect(pick([seq('resumed', 900, 56, 0), short])).toBe('resumed');
    // Nothing but nearly finished ones: still a victim (the most left), so the pool can never deadlock.
    expect(pick([short, seq('tiny', 2, NEAR_FINISH_BLOCKS)])).toBe('short');
    expect(preemptionVictim([], (r: Seq) => r)).toBeUndefined();
  });

  it('maps a length bucket to a decode hint', () => {
    const pred = new LengthPredictor({ seed: 0 }).predict([1, 2, 3]);
    expect(toDecodePrediction({ ...pred, bucket: 3, range: { index: 3, min: 512, max: null } }, 100)).toEqual({ isLong: true, expectedOutputTokens: 100 });
    expect(toDecodePrediction({ ...pred, bucket: 0, range: { index: 0, min: 0, max: 32 } }, 100)).toEqual({ isLong: false, expectedOutputTokens: 16 });
    expect(toDecodePrediction({ ...pred, bucket: 2, range: { index: 2, min: 128, max: 512 } }, 1000)).toEqual({ isLong: true, expectedOutputTokens: 320 });
  });

  it('picks the least outstanding colocated instance, counting running decodes as outstanding', () => {
    expect(leastOutstanding([prefill('a', 2, 5), prefill('b', 1, 9), prefill('c', 1, 3)]).id).toBe('c');
    expect(leastOutstanding([prefill('a', 1, 3), prefill('b', 1, 3)]).id).toBe('a');
    const busy = colocatedRoutingLoad({ id: 'x', tokensPerSecond: 10 }, { requests: 5, prefillTokens: 50 });
    expect(busy).toEqual({ id: 'x', queuedRequests: 5, queuedPromptTokens: 50, tokensPerSecond: 10 });
    expect(leastOutstanding([busy, prefill('y', 2, 900)]).id).toBe('y');
  });

  it('falls back to the decode instance with the fewest sequences, preferring ones that are up', () => {
    const loads = [decode('d0', 3, 1, 2), decode('d1', 1, 0, 2), decode('d2', 0, 0, 2)];
    expect(leastLoadedDecode(loads)).toBe(2);
    expect(leastLoadedDecode(loads, (id) => id === 'd2')).toBe(1);
    expect(leastLoadedDecode(loads, () => true)).toBe(2);
    expect(leastLoadedDecode([])).toBe(0);
  });

  it('judges admission on the best TPOT of the instances that are up and on engine-wide queue totals', () => {
    const loads = [decode('d0', 4, 0, 8), decode('d1', 1, 0, 3), decode('d2', 0, 0, null)];
    const best = bestDecodeTpotMs(loads);
    expect(best).not.toBeNull();
    expect(bestDecodeTpotMs(loads, (id) => id === 'd1')).toBeGreaterThan(best as number);
    expect(bestDecodeTpotMs([decode('d2', 0, 0, null)])).toBeNull();
    expect(queueTotals([prefill('a', 2, 5), prefill('b', 1, 9)])).toEqual({ queuedRequests: 3, queuedPromptTokens: 14 });
  });
});
