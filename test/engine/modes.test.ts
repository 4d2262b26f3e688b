/**
 * Correctness of every serving mode: with greedy sampling, many concurrent requests of mixed
 * lengths get exactly the tokens of the plain single-model generate — on the built-in model and on
 * the Hugging Face reference checkpoint — and leave no KV blocks in use.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createEngine, type Engine, type EngineOptionsInput } from '@baton/engine';
import { FIXTURE_DIR, FIXTURE_NOTE, HAVE_FIXTURE } from '../support/fixtures.js';
import { mixedPrompts, referenceIds } from '../support/reference.js';

let engine: Engine | null = null;
afterEach(async () => {
  await engine?.close({ deadlineMs: 0 });
  engine = null;
});

const MODES: Array<[string, EngineOptionsInput]> = [
  ['disaggregated 2P/2D', { mode: 'disaggregated', prefill: 2, decode: 2 }],
  ['colocated x2', { mode: 'colocated', colocated: 2 }],
  ['chunked x2 (small chunks)', { mode: 'chunked', colocated: 2, prefillChunkSize: 16, tokenBudget: 24 }],
  ['single', { mode: 'single' }],
];

/** Runs `prompts` concurrently and checks each against the reference. */
async function expectSameAsReference(model: string, options: EngineOptionsInput, prompts: number[][]): Promise<void> {
  engine = await createEngine({ ...options, model, backend: 'wasm' });
  const maxTokens = (i: number): number => 4 + (i % 5) * 4;
  const results = await Promise.all(prompts.map((prompt, i) => engine!.generate({ prompt, maxTokens: maxTokens(i) }).result));
  for (const [i, r] of results.entries()) {
    expect(r.finishReason, `request ${i}`).toBe('length');
    expect(r.ids, `request ${i}`).toEqual(await referenceIds(model, prompts[i], maxTokens(i)));
  }
  const stats = await engine.stats();
  expect(stats.scheduler.pool.used).toBe(0);
  expect(stats.completed).toBe(prompts.length);
}

describe('every mode equals the single-model generate (built-in baton-tiny)', () => {
  const prompts = mixedPrompts(10, 7);
  for (const [name, options] of MODES) {
    it(name, async () => expectSameAsReference('baton-tiny', options, prompts));
  }
});

describe.skipIf(!HAVE_FIXTURE)(`every mode equals the single-model generate (HF checkpoint)${FIXTURE_NOTE}`, () => {
  const prompts = mixedPrompts(16, 11, 60);
  for (const [name, options] of MODES) {
    it(name, async () => expectSameAsReference(FIXTURE_DIR, options, prompts));
  }
});
