/**
 * Correctness of every serving mode in every placement: with greedy sampling, many concurrent
 * requests of mixed lengths get exactly the tokens of the plain single-model generate — on the
 * built-in model, on the Hugging Face reference checkpoint, and on any further checkpoint
 * directories named in BATON_EXTRA_CHECKPOINTS (colon-separated) — and leave no KV block in use in
 * any pool. Placements: every actor on a thread; every actor in a child process; and mixed (prefill
 * in processes, decode on threads, the scheduler in a process of its own).
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

const BASE_MODES: Array<[string, EngineOptionsInput]> = [
  ['disaggregated 2P/2D', { mode: 'disaggregated', prefill: 2, decode: 2 }],
  ['colocated x2', { mode: 'colocated', colocated: 2 }],
  ['chunked x2 (small chunks)', { mode: 'chunked', colocated: 2, prefillChunkSize: 16, tokenBudget: 24 }],
  ['single', { mode: 'single' }],
];
const MODES: Array<[string, EngineOptionsInput]> = [
  ...BASE_MODES.map(([name, o]): [string, EngineOptionsInput] => [`${name} · threads`, o]),
  ...BASE_MODES.map(([name, o]): [string, EngineOptionsInput] => [`${name} · processes`, { ...o, placement: 'process' }]),
  ['disaggregated 2P/1D · prefill in processes, decode on a thread, scheduler in a process', {
    mode: 'disaggregated', prefill: 2, decode: 1, placement: { prefill: 'process', decode: 'thread', scheduler: 'process', predictor: 'process' },
  }],
];
const EXTRA_CHECKPOINTS = (process.env.BATON_EXTRA_CHECKPOINTS ?? '').split(':').filter((d) => d !== '');

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
  expect(stats.pool.used).toBe(0);
  for (const p of stats.pools) expect(p.stats.used, `pool ${p.name}`).toBe(0);
  expect(stats.completed).toBe(prompts.length);
  if (options.placement !== undefined) expect(stats.actors.some((a) => a.pid !== process.pid), 'some actor runs in a child process').toBe(true);
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

for (const dir of EXTRA_CHECKPOINTS) {
  describe(`every mode equals the single-model generate (${dir})`, () => {
    const prompts = mixedPrompts(12, 13, 60);
    for (const [name, options] of MODES) {
      it(name, async () => expectSameAsReference(dir, options, prompts));
    }
  });
}
