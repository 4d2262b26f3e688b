import { describe, expect, it } from 'vitest';
import * as engine from '@baton/engine';
import { generateWorkload, atRate } from '@baton/bench';
import { SIM_POLICY, leastOutstanding, toDecodePrediction } from './sim-policy.js';
import { simulate } from './simulator.js';
import { constantStepTimes } from './step-times.js';
import { SimKvPool, blockHashes } from './sim-kv-pool.js';
import type { DecisionTrace } from './sim-cell.js';

const times = constantStepTimes({ prefillFixedMs: 2, prefillMsPerToken: 0.2, decodeFixedMs: 1.5, decodeMsPerSeq: 0.1, transferMs: 0.3, hopMs: 0.05, schedulerUs: 20 });

describe('the simulator runs the engine policy code', () => {
  it('references the engine exports themselves', () => {
    expect(SIM_POLICY.choosePrefill).toBe(engine.choosePrefill);
    expect(SIM_POLICY.chooseDecode).toBe(engine.chooseDecode);
    expect(SIM_POLICY.admit).toBe(engine.admit);
    expect(SIM_POLICY.estimateDecodeTpotMs).toBe(engine.estimateDecodeTpotMs);
    expect(SIM_POLICY.LengthPredictor).toBe(engine.LengthPredictor);
  });

  it('makes every placement the engine functions make on the same loads', () => {
    const decisions: DecisionTrace[] = [];
    const w = generateWorkload({ mix: 'multiturn', count: 160, seed: 3 });
    const blockSize = 16;
    simulate({ config: { mode: 'disaggregated', prefill: 3, decode: 2, kv: { blockSize, numBlocks: 400 } }, times, arrivals: atRate(w, 40), onDecision: (d) => decisions.push(d) });
    expect(decisions.length).toBe(160);
    let hits = 0;
    const spread = new Set<string>();
    for (const d of decisions) {
      const req = w.requests[d.request];
      const again = engine.choosePrefill(req, d.prefillLoads, (id) => d.cached[id]);
      expect(again?.actorId).toBe(d.target);
      if (Object.values(d.cached).some((c) => c > 0)) hits++;
      expect(d.prediction).not.toBeNull();
      const decode = engine.chooseDecode(req, d.prediction, d.decodeLoads, { blockSize, maxBatch: 32 });
      expect(decode?.actorId ?? d.decode).toBe(d.decode);
      spread.add(`${d.target}/${d.decode}`);
    }
    // Multi-turn prompts share prefixes (cache hits happen), and load spreads over the instances.
    expect(hits).toBeGreaterThan(20);
    expect(spread.size).toBeGreaterThan(3);
  });

  it('routes a prefix-cache hit to the instance that holds it, as choosePrefill weighs it', () => {
    // Two requests with the same long prompt, far apart: the second is a full prefix hit on the
    // (shared) pool, so its TTFT estimate is one token's prefill, and its TTFT follows.
    const prompt = Array.from({ length: 320 }, (_, i) => (i * 31) % 256);
    const arrivals = [
      { index: 0, arrivalMs: 0, promptIds: prompt, maxTokens: 4 },
      { index: 1, arrivalMs: 1_000, promptIds: prompt, maxTokens: 4 },
    ];
    const run = simulate({ config: { mode: 'disaggregated', prefill: 1, decode: 1 }, times, arrivals });
    const first = run.log.at(0);
    const second = run.log.at(1);
    expect(first.ttftMs as number).toBeGreaterThan(60);
    expect(second.ttftMs as number).toBeLessThan(10);
  });

  it('mirrors the scheduler actor private mappings', () => {
    const p = new engine.LengthPredictor({ seed: 0 });
    const pred = p.predict([1, 2, 3]);
    const hint = toDecodePrediction(pred, 1000);
    const { min, max } = pred.range;
    expect(hint.expectedOutputTokens).toBe(max === null ? min * 2 : (min + max) / 2);
    expect(toDecodePrediction({ ...pred, bucket: 3, range: { index: 3, min: 512, max: null } }, 100)).toEqual({ isLong: true, expectedOutputTokens: 100 });
    expect(toDecodePrediction({ ...pred, bucket: 0, range: { index: 0, min: 0, max: 32 } }, 100)).toEqual({ isLong: false, expectedOutputTokens: 16 });
    const l = (id: string, queuedRequests: number, queuedPromptTokens: number): engine.PrefillLoad => ({ id, queuedRequests, queuedPromptTokens, tokensPerSecond: 1 });
    expect(leastOutstanding([l('a', 2, 5), l('b', 1, 9), l('c', 1, 3)]).id).toBe('c');
    expect(leastOutstanding([l('a', 1, 3), l('b', 1, 3)]).id).toBe('a');
  });
});

describe('SimKvPool', () => {
  it('reuses published prefixes, evicts least recently used cached blocks, keeps its counts', () => {
    const pool = new SimKvPool(10);
    const a = blockHashes(Array.from({ length: 64 }, (_, i) => i), 16);
    expect(a).toHaveLength(4);
    const h = pool.reserve(a, 0, 65, 16);
    expect(h).not.toBeNull();
    expect(pool.free).toBe(5);
    pool.publish(h!, a);
    pool.release(h!);
    expect(pool.free).toBe(6);
    expect(pool.freeForRouting).toBe(10);
    expect(pool.matchLength(a)).toBe(4);
    const h2 = pool.reserve(a, 3, 64, 16);
    expect(SimKvPool.blocks(h2!)).toBe(4);
    expect(pool.reserve([], 0, 16 * 9, 16)).toBeNull();
    const big = pool.reserve([], 0, 16 * 6, 16);
    expect(big).not.toBeNull();
    expect(pool.matchLength(a)).toBe(3);
    pool.release(h2!);
    pool.release(big!);
    expect(pool.freeForRouting).toBe(10);
  });
});
