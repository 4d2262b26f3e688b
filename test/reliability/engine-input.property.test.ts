/**
 * Bad input at the engine's own boundaries, property-based (fast-check, seeded): engine options
 * (`resolveOptions` / `createEngine`) and `generate` requests. Random and mutated inputs give the
 * typed error naming the option or field (InvalidOptionsError.option, InvalidRequestError.field),
 * or a valid result — never another exception; `createEngine` with bad options starts no thread;
 * the engine keeps serving and holds nothing afterwards.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_ENGINE_OPTIONS, InvalidOptionsError, InvalidRequestError, createEngine, resolveOptions, type Engine } from '@baton/engine';
import { ModelNotFoundError } from '@baton/model';
import { threadCount } from './support/resource-probe.js';
import { removeAll, writeTinyCheckpoint } from './support/tiny-checkpoint.js';

const odd: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(0, -1, 0.5, 1.5, 2 ** 31, 2 ** 53 + 2, Number.NaN, Number.POSITIVE_INFINITY, -0, 1e308, '', '4', null, undefined, true, [], {}),
  fc.integer({ min: 1, max: 64 }),
);
const TOP = Object.keys(DEFAULT_ENGINE_OPTIONS);
const NESTED: Record<string, string[]> = {
  kv: ['blockSize', 'numBlocks'],
  queue: ['maxRequests', 'maxPromptTokens'],
  slo: ['ttftMs', 'tpotMs'],
  faults: ['crashes', 'dropHandoffEvery', 'handoffDelayMs', 'predictorFails', 'reserveKvBlocks'],
};

/** Options objects: known keys with odd values, nested objects with odd fields, unknown keys. */
const optionsInput: fc.Arbitrary<unknown> = fc.oneof(
  fc.dictionary(fc.constantFrom(...TOP), odd, { maxKeys: 4 }),
  fc.tuple(fc.constantFrom(...Object.keys(NESTED)), fc.dictionary(fc.oneof(fc.constantFrom(...Object.values(NESTED).flat()), fc.string({ maxLength: 6 })), odd, { maxKeys: 3 }))
    .map(([k, v]) => ({ [k]: v })),
  fc.record({ faults: fc.record({ crashes: fc.array(fc.dictionary(fc.constantFrom('role', 'index', 'afterSteps', 'kind', 'when'), odd, { maxKeys: 4 }), { maxLength: 2 }) }) }),
  fc.dictionary(fc.string({ maxLength: 8 }), odd, { maxKeys: 3 }),
  odd,
);

describe('engine options (property-based)', () => {
  it('resolveOptions returns valid options or throws InvalidOptionsError naming the option', () => {
    fc.assert(
      fc.property(optionsInput, (input) => {
        let resolved;
        try {
          resolved = resolveOptions(input);
        } catch (e) {
          expect(e, String(e)).toBeInstanceOf(InvalidOptionsError);
          const option = (e as InvalidOptionsError).option;
          // NOTE: the one empty name allowed is an unknown key that is itself called "".
          expect(option.length > 0 || hasEmptyKey(input), (e as Error).message).toBe(true);
          expect((e as Error).message).toContain(option);
          return;
        }
        // A valid result is a fixed point and keeps the invariants.
        expect(resolveOptions(resolved)).toEqual(resolved);
        for (const n of [resolved.prefill, resolved.decode, resolved.kv.blockSize, resolved.kv.numBlocks, resolved.maxBatch]) expect(Number.isInteger(n) && n > 0).toBe(true);
        expect(resolved.prefillChunkSize).toBeLessThanOrEqual(resolved.tokenBudget);
      }),
      { seed: 921, numRuns: 1_000 },
    );
  });

  it('createEngine with invalid options rejects with the same typed error and starts no thread', async () => {
    const threads = threadCount();
    const invalid = fc.sample(optionsInput.filter((o) => throws(() => resolveOptions(o))), { seed: 922, numRuns: 25 });
    for (const input of invalid) {
      const error = await createEngine(input as never).then(() => null, (e: unknown) => e);
      expect(error, JSON.stringify(input)).toBeInstanceOf(InvalidOptionsError);
    }
    expect(threadCount()).toBe(threads);
  });

  it('createEngine with a model that does not exist, or a fault plan larger than the pool, is a typed error', async () => {
    await expect(createEngine({ model: '/nonexistent/checkpoint', backend: 'wasm' })).rejects.toBeInstanceOf(ModelNotFoundError);
    const e = await createEngine({ model: 'baton-tiny', backend: 'wasm', kv: { numBlocks: 8 }, faults: { reserveKvBlocks: 9 } }).then(() => null, (x: unknown) => x);
    expect(e).toBeInstanceOf(InvalidOptionsError);
    expect((e as InvalidOptionsError).option).toBe('faults.reserveKvBlocks');
  });
});

describe('generate requests (property-based)', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await createEngine({ model: writeTinyCheckpoint(), backend: 'wasm' });
  });
  afterAll(async () => {
    await engine?.close({ deadlineMs: 0 });
    removeAll();
  });

  const prompt = fc.oneof(fc.string({ maxLength: 80 }), fc.array(fc.integer({ min: -2, max: 300 }), { maxLength: 70 }), odd);
  const request = fc.oneof(
    fc.record(
      { prompt, maxTokens: odd, temperature: odd, topK: odd, topP: odd, seed: odd, stop: fc.oneof(odd, fc.array(odd, { maxLength: 3 })), id: odd },
      { requiredKeys: ['prompt'] },
    ),
    fc.tuple(fc.string({ maxLength: 8 }), odd).map(([k, v]) => ({ prompt: 'hi', maxTokens: 2, [k]: v })),
    odd,
  );

  it('each request throws InvalidRequestError naming a field, or completes', { timeout: 120_000 }, async () => {
    let completed = 0;
    await fc.assert(
      fc.asyncProperty(request, async (input) => {
        let generation;
        try {
          generation = engine.generate(input as never);
        } catch (e) {
          expect(e, String(e)).toBeInstanceOf(InvalidRequestError);
          expect((e as InvalidRequestError).field.length > 0 || hasEmptyKey(input), (e as Error).message).toBe(true);
          return;
        }
        const result = await generation.result;
        expect(['length', 'stop'], result.error?.message).toContain(result.finishReason);
        completed += 1;
      }),
      { seed: 923, numRuns: 400 },
    );
    expect(completed).toBeGreaterThan(0);
    const stats = await engine.stats();
    expect(stats.active).toBe(0);
    expect((await engine.generate({ prompt: 'still here', maxTokens: 3 }).result).finishReason).toBe('length');
  });
});

/** Whether `input` (or an object inside it) has a key that is the empty string. */
function hasEmptyKey(input: unknown): boolean {
  if (typeof input !== 'object' || input === null) return false;
  return Object.entries(input).some(([k, v]) => k === '' || hasEmptyKey(v));
}

function throws(f: () => unknown): boolean {
  try {
    f();
    return false;
  } catch {
    return true;
  }
}
