import { describe, expect, it } from 'vitest';
import * as engine from '@baton/engine';
import { generateWorkload, atRate } from '@baton/bench';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SIM_POLICY } from './sim-policy.js';
import { simulate } from './simulator.js';
import { constantStepTimes } from './step-times.js';
import { SimKvPool, blockHashes } from './sim-kv-pool.js';
import type { DecisionTrace } from './sim-cell.js';

const times = constantStepTimes({ prefillFixedMs: 2, prefillMsPerToken: 0.2, decodeFixedMs: 1.5, decodeMsPerSeq: 0.1, transferMs: 0.3, hopMs: 0.05, schedulerUs: 20 });

describe('the simulator runs the engine policy code', () => {
  it('references the engine exports themselves', () => {
    const fns = Object.entries(SIM_POLICY).filter(([, v]) => typeof v === 'function');
    expect(fns.length).toBe(15);
    const exports = engine as unknown as Record<string, unknown>;
    for (const [name, fn] of fns) expect(fn, name).toBe(exports[name]);
    expect(SIM_POLICY.blockedRetryMs).toBe(engine.BLOCKED_RETRY_MS);
    expect(SIM_POLICY.stepEwmaAlpha).toBe(engine.STEP_EWMA_ALPHA);
    expect(SIM_POLICY.reportIntervalMs).toBe(engine.REPORT_INTERVAL_MS);
  });

  it('defines none of the engine policy functions itself', () => {
    const dir = dirname(fileURLToPath(import.meta.url));
    const names = Object.keys(SIM_POLICY).filter((k) => typeof (SIM_POLICY as Record<string, unknown>)[k] === 'function');
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))) {
      const src = readFileSync(join(dir, file), 'utf8');
      for (const name of names) expect(src, `${file} defines ${name}`).not.toMatch(new RegExp(`(function|const|class)\\s+${name}\\b`));
    }
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
      const again = engine.choosePrefill(req, engine.pooledRate(d.prefillLoads), (id) => d.cached[id]);
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
