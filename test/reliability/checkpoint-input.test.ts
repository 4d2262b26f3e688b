/**
 * Bad checkpoint files: a corrupt safetensors header, truncated data, wrong shapes, NaN and
 * infinite weights, a config.json that does not match the weights or is malformed. Each gives a
 * typed ModelError subclass (stable `code`) whose message names the file, tensor or field — from
 * `loadModel` in this thread, and from `createEngine` (as ActorStartError naming the ModelError),
 * whose actor threads must all be gone after the failure (the process stays up and can start a good engine next). Property-based: any
 * truncation and any random byte damage gives a typed error or a model that loads, never a crash.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine } from '@baton/engine';
import { ConfigError, ModelError, SafetensorsError, WeightsError, initBackend, loadModel, parseSafetensors } from '@baton/model';
import { extraResources, settle, snapshot } from './support/resource-probe.js';
import { patchConfig, pokeFloat, readParts, readRaw, removeAll, writeParts, writeRaw, writeTinyCheckpoint } from './support/tiny-checkpoint.js';

beforeAll(async () => {
  await initBackend('wasm');
});
afterAll(() => removeAll());

type Damage = (dir: string) => void;
const C_ATTN = 'transformer.h.0.attn.c_attn.weight';

/** Each damage, the error class it must raise, and a word the message must contain. */
const CASES: Array<[string, Damage, new (...args: never[]) => ModelError, string]> = [
  ['a header length past the end of the file', (d) => { const b = readRaw(d); new DataView(b.buffer).setBigUint64(0, 1n << 40n, true); writeRaw(d, b); }, SafetensorsError, 'header'],
  ['a header that is not JSON', (d) => writeParts(d, '{"transformer.wte.weight": {', readParts(d).data), SafetensorsError, 'JSON'],
  ['a header that is a JSON array', (d) => writeParts(d, '[1, 2, 3]', readParts(d).data), SafetensorsError, 'object'],
  ['an unsupported dtype', (d) => { const p = readParts(d); (p.header[C_ATTN] as { dtype: string }).dtype = 'I64'; writeParts(d, JSON.stringify(p.header), p.data); }, SafetensorsError, C_ATTN],
  ['data offsets out of order', (d) => { const p = readParts(d); const e = p.header[C_ATTN] as { data_offsets: number[] }; e.data_offsets = [e.data_offsets[1], e.data_offsets[0]]; writeParts(d, JSON.stringify(p.header), p.data); }, SafetensorsError, C_ATTN],
  ['a file of 5 bytes', (d) => writeRaw(d, new Uint8Array(5)), SafetensorsError, 'truncated'],
  ['truncated data', (d) => { const b = readRaw(d); writeRaw(d, b.subarray(0, b.length - 100)); }, SafetensorsError, 'truncated'],
  ['a transposed shape', (d) => { const p = readParts(d); (p.header[C_ATTN] as { shape: number[] }).shape = [96, 32]; writeParts(d, JSON.stringify(p.header), p.data); }, WeightsError, C_ATTN],
  ['a missing tensor', (d) => { const p = readParts(d); delete p.header['transformer.ln_f.bias']; writeParts(d, JSON.stringify(p.header), p.data); }, WeightsError, 'ln_f.bias'],
  ['an unexpected tensor', (d) => { const p = readParts(d); p.header['transformer.h.7.mlp.c_fc.bias'] = p.header['transformer.ln_f.bias']; writeParts(d, JSON.stringify(p.header), p.data); }, WeightsError, 'h.7'],
  ['a NaN weight', (d) => pokeFloat(d, C_ATTN, 17, Number.NaN), WeightsError, 'NaN'],
  ['an infinite weight', (d) => pokeFloat(d, 'transformer.wte.weight', 3, Number.POSITIVE_INFINITY), WeightsError, 'Infinity'],
  ['config wider than the weights', (d) => patchConfig(d, { n_embd: 64 }), WeightsError, 'shape'],
  ['config with more layers than the weights', (d) => patchConfig(d, { n_layer: 2 }), WeightsError, 'h.1'],
  ['config with a longer context than the weights', (d) => patchConfig(d, { n_positions: 128, n_ctx: 128 }), WeightsError, 'wpe'],
  ['config missing n_embd', (d) => patchConfig(d, { n_embd: undefined }), ConfigError, 'n_embd'],
  ['config with a string n_head', (d) => patchConfig(d, { n_head: 'two' }), ConfigError, 'n_head'],
  ['config with n_embd not divisible by n_head', (d) => patchConfig(d, { n_head: 3 }), ConfigError, 'n_head'],
  ['config.json that is not JSON', (d) => patchConfig(d, '{"n_embd": 32,'), ConfigError, 'config.json'],
  ['a config vocabulary that does not match the embedding', (d) => patchConfig(d, { vocab_size: 100 }), WeightsError, 'wte'],
];

describe('damaged checkpoints give typed errors at load', () => {
  it.each(CASES)('%s', async (_name, damage, type, word) => {
    const dir = writeTinyCheckpoint();
    damage(dir);
    const error = await loadModel(dir).then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(type);
    expect((error as ModelError).code).toMatch(/^MODEL_/);
    expect((error as Error).message).toContain(word);
  });

  it('the undamaged checkpoint loads (the damage, not the fixture, is what fails)', async () => {
    const model = await loadModel(writeTinyCheckpoint());
    expect(model.config.nEmbd).toBe(32);
  });
});

describe('damaged checkpoints through createEngine', () => {
  it.each([CASES[1], CASES[6], CASES[10], CASES[12]])('%s: createEngine rejects with the typed error and leaves no thread behind', { timeout: 60_000 }, async (_name, damage, type) => {
    const before = await snapshot();
    const dir = writeTinyCheckpoint();
    damage(dir);
    const error = await createEngine({ model: dir, backend: 'wasm' }).then(
      async (e) => {
        await e.close({ deadlineMs: 0 });
        return null;
      },
      (e: unknown) => e,
    );
    expect(error, 'createEngine must reject').not.toBeNull();
    // NOTE: the weights load inside the actor threads; the failure arrives as the actor runtime's
    // typed ActorStartError carrying the model error's class name and message.
    expect((error as { code?: string }).code).toBe('ACTOR_START_FAILED');
    expect((error as Error).message).toContain(`${type.name}: `);
    expect((error as Error).message).toMatch(/model\.safetensors|tensor "/);
    const after = await settle((s) => s.threads === before.threads && Object.keys(extraResources(before.resources, s.resources)).length === 0);
    expect(after.threads).toBe(before.threads);
    expect(extraResources(before.resources, after.resources)).toEqual({});
  });

  it('a good engine starts and serves after all of those failures', { timeout: 60_000 }, async () => {
    const engine = await createEngine({ model: writeTinyCheckpoint(), backend: 'wasm' });
    try {
      expect((await engine.generate({ prompt: 'ok', maxTokens: 3 }).result).finishReason).toBe('length');
    } finally {
      await engine.close();
    }
  });
});

describe('random damage (property-based)', () => {
  let good: Uint8Array;
  beforeAll(() => {
    good = readRaw(writeTinyCheckpoint());
  });

  it('any truncation of the file is a SafetensorsError', () => {
    fc.assert(
      fc.property(fc.nat({ max: good.length - 1 }), (cut) => {
        expect(() => parseSafetensors(good.subarray(0, cut), 'model.safetensors')).toThrow(SafetensorsError);
      }),
      { seed: 911, numRuns: 300 },
    );
  });

  it('random bytes written anywhere give a typed ModelError or a model that loads, never another error', async () => {
    const headerEnd = 8 + Number(new DataView(good.buffer).getBigUint64(0, true));
    const dir = writeTinyCheckpoint();
    const position = fc.oneof(fc.nat({ max: headerEnd - 1 }), fc.integer({ min: headerEnd, max: good.length - 1 }));
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(position, fc.nat({ max: 255 })), { minLength: 1, maxLength: 8 }), async (edits) => {
        const bytes = good.slice();
        for (const [at, value] of edits) bytes[at] = value;
        writeRaw(dir, bytes);
        const error = await loadModel(dir).then(() => null, (e: unknown) => e);
        if (error !== null) expect(error, String(error)).toBeInstanceOf(ModelError);
      }),
      { seed: 912, numRuns: 200 },
    );
  });
});
