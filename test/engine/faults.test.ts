/**
 * Fault injection (configuration only): a prefill or decode actor crashing mid-request (a throw,
 * or its thread exiting), a KV handoff that is never completed, a failing length predictor, an
 * exhausted pool. Every request either completes with exactly the reference tokens (the stream
 * resumes after the tokens already delivered: none duplicated or missing) or ends with a clear
 * error; none hangs.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createEngine, type Engine, type EngineOptionsInput, type GenerationResult } from '@baton/engine';
import { eventually } from '../support/eventually.js';
import { mixedPrompts, referenceIds } from '../support/reference.js';

let engine: Engine | null = null;
afterEach(async () => {
  await engine?.close({ deadlineMs: 0 });
  engine = null;
});

const MAX_TOKENS = 24;

/** Runs prompts concurrently, collecting every streamed token to check for duplicates/gaps. */
async function run(options: EngineOptionsInput, prompts: number[][]): Promise<Array<{ result: GenerationResult; streamed: number[] }>> {
  engine = await createEngine({ model: 'baton-tiny', backend: 'wasm', stallTimeoutMs: 3_000, ...options });
  return Promise.all(
    prompts.map(async (prompt) => {
      const streamed: number[] = [];
      const g = engine!.generate({ prompt, maxTokens: MAX_TOKENS });
      for await (const ev of g) if (ev.type === 'token') streamed.push(ev.id);
      return { result: await g.result, streamed };
    }),
  );
}

async function expectReference(prompts: number[][], outcomes: Array<{ result: GenerationResult; streamed: number[] }>): Promise<void> {
  for (const [i, { result, streamed }] of outcomes.entries()) {
    expect(result.finishReason, `request ${i}: ${result.error?.message ?? ''}`).toBe('length');
    expect(streamed, `request ${i} stream`).toEqual(result.ids);
    expect(result.ids, `request ${i}`).toEqual(await referenceIds('baton-tiny', prompts[i], MAX_TOKENS));
  }
}

/** Waits until no KV block is referenced (actors release asynchronously). */
async function expectNoBlocksInUse(e: Engine): Promise<void> {
  await eventually(() => e.stats(), { until: (st) => st.pool.used === 0, timeoutMs: 2_000, what: 'no KV block in use' });
}

describe('actor crashes mid-request', () => {
  const prompts = mixedPrompts(10, 21, 50);
  // NOTE: a small token budget makes prefill take several steps, so a prefill crash lands mid-stream.
  const small = { tokenBudget: 32, prefillChunkSize: 32 };
  const cases: Array<[string, EngineOptionsInput]> = [
    ['decode actor throws', { mode: 'disaggregated', faults: { crashes: [{ role: 'decode', afterSteps: 8, kind: 'throw' }] } }],
    ['decode thread exits', { mode: 'disaggregated', faults: { crashes: [{ role: 'decode', afterSteps: 8, kind: 'exit' }] } }],
    ['prefill actor throws', { mode: 'disaggregated', ...small, faults: { crashes: [{ role: 'prefill', afterSteps: 3, kind: 'throw' }] } }],
    ['prefill thread exits', { mode: 'disaggregated', ...small, faults: { crashes: [{ role: 'prefill', afterSteps: 3, kind: 'exit' }] } }],
    ['colocated thread exits', { mode: 'colocated', colocated: 1, faults: { crashes: [{ role: 'colocated', afterSteps: 10, kind: 'exit' }] } }],
  ];
  for (const [name, options] of cases) {
    it(`${name}: requests resume and match the reference; the dead actor's blocks are reclaimed`, async () => {
      const outcomes = await run(options, prompts);
      await expectReference(prompts, outcomes);
      expect((await engine!.stats()).retried).toBeGreaterThan(0);
      await expectNoBlocksInUse(engine!);
    });
  }
});

describe('KV handoff and helpers failing', () => {
  it('a handoff whose layers never arrive is cancelled at its deadline and retried', async () => {
    const prompts = mixedPrompts(5, 5, 40);
    const outcomes = await run({ mode: 'disaggregated', handoffTimeoutMs: 300, faults: { dropHandoffEvery: 2 } }, prompts);
    await expectReference(prompts, outcomes);
    const stats = await engine!.stats();
    expect(stats.retried).toBeGreaterThan(0);
  });

  it('a failing length predictor does not stop serving', async () => {
    const prompts = mixedPrompts(4, 9, 30);
    const outcomes = await run({ mode: 'disaggregated', faults: { predictorFails: true } }, prompts);
    await expectReference(prompts, outcomes);
  });

  it('an exhausted pool makes decode preempt and recompute; tokens still match', async () => {
    const prompts = mixedPrompts(6, 13, 30);
    const outcomes = await run({ mode: 'disaggregated', kv: { blockSize: 8, numBlocks: 64 }, faults: { reserveKvBlocks: 44 } }, prompts);
    await expectReference(prompts, outcomes);
  });
});
