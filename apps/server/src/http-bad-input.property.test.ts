/**
 * Property-based bad input over the HTTP API (fast-check, seeded): random JSON bodies, valid
 * bodies with a field set to a value of the wrong type, a huge or odd number, an unknown field or
 * a missing field, invalid JSON text, oversized bodies. Every answer is a 2xx (the mutation happened
 * to be valid) or a 4xx carrying an OpenAI error object whose `param` names a field — never a 5xx;
 * the server stays up and a valid request still works afterwards, over a real socket.
 *
 * NOTE: the engine serves a tiny checkpoint (64 positions, 1 layer) written to a temp directory,
 * so a mutation that is valid generates at most a few dozen cheap tokens.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomWeights, saveCheckpoint, type GptConfig } from '@baton/model';
import type { OpenAiErrorBody } from './openai-error.js';
import { createServer, type BatonServer } from './server.js';

const MODEL = 'tiny';
const BODY_LIMIT = 16 * 1024;
const TINY: GptConfig = {
  vocabSize: 256, nPositions: 64, nEmbd: 32, nLayer: 1, nHead: 2, nInner: 64, activation: 'gelu_new',
  layerNormEpsilon: 1e-5, initializerRange: 0.02, bosTokenId: null, eosTokenId: null,
};
/** Numbers JSON.stringify cannot write: inserted into the body text as raw literals. */
const RAW_NUMBERS = ['1e400', '-1e400', '1e-400', '-0', '123456789012345678901234567890', '9007199254740993', '4294967296', '0.1e1', '-2147483649'];
const FIELDS = {
  completions: ['model', 'prompt', 'max_tokens', 'temperature', 'top_p', 'seed', 'stop', 'stream', 'stream_options', 'user', 'n', 'presence_penalty', 'frequency_penalty', 'logprobs', 'echo', 'best_of', 'suffix'],
  chat: ['model', 'messages', 'max_tokens', 'max_completion_tokens', 'temperature', 'top_p', 'seed', 'stop', 'stream', 'stream_options', 'user', 'n'],
} as const;
type Endpoint = keyof typeof FIELDS;
const VALID: Record<Endpoint, Record<string, unknown>> = {
  completions: { model: MODEL, prompt: 'hi', max_tokens: 2 },
  chat: { model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 },
};

let dir: string;
let server: BatonServer;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'baton-http-prop-'));
  saveCheckpoint(dir, { config: TINY, weights: randomWeights(TINY, 7) });
  server = await createServer({ engineOptions: { model: dir, backend: 'wasm' }, modelName: MODEL, bodyLimitBytes: BODY_LIMIT });
});
afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A JSON-ish value to put in a field: any JSON, a raw odd number, or a boundary number. */
const oddValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(...RAW_NUMBERS).map((raw) => ({ rawNumber: raw })),
  fc.constantFrom(0, -1, 0.5, 2 ** 31, 2 ** 53, -(2 ** 53), Number.MAX_VALUE, Number.MIN_VALUE, '', ' ', '0', 'null', true, false, null, [], {}),
);

/** A mutated body: one of set / delete / add-unknown / nested message mutation / whole-body replacement. */
function mutatedBody(endpoint: Endpoint): fc.Arbitrary<unknown> {
  const base = VALID[endpoint];
  const set = fc.tuple(fc.constantFrom(...FIELDS[endpoint]), oddValue).map(([k, v]) => ({ ...base, [k]: v }));
  const drop = fc.constantFrom(...Object.keys(base)).map((k) => Object.fromEntries(Object.entries(base).filter(([key]) => key !== k)));
  const unknownKey = fc.oneof(fc.string({ minLength: 1, maxLength: 12 }), fc.constantFrom('constructor', 'toString', 'max-tokens', 'Model', 'prompt ')).filter((k) => !(k in base) && !FIELDS[endpoint].includes(k as never));
  const add = fc.tuple(unknownKey, oddValue).map(([k, v]) => ({ ...base, [k]: v }));
  const message = fc.tuple(fc.constantFrom('role', 'content', 'name', 'tool_calls'), oddValue).map(([k, v]) => ({ ...VALID.chat, messages: [{ role: 'user', content: 'hi', [k]: v }] }));
  const whole = fc.jsonValue({ maxDepth: 3 });
  return endpoint === 'chat' ? fc.oneof(set, drop, add, message, whole) : fc.oneof(set, drop, add, whole);
}

/** JSON text with raw-number markers written as literals. */
function toJsonText(body: unknown): string {
  const raws: string[] = [];
  const text = JSON.stringify(body, (_k, v: unknown) => {
    if (typeof v === 'object' && v !== null && 'rawNumber' in v && Object.keys(v).length === 1) {
      raws.push(String((v as { rawNumber: unknown }).rawNumber));
      return `\u0000RAW${raws.length - 1}\u0000`;
    }
    return v;
  }) ?? 'null';
  return text.replace(/"\\u0000RAW(\d+)\\u0000"/g, (_m, i: string) => raws[Number(i)]);
}

async function post(endpoint: Endpoint, payload: string): Promise<{ status: number; body: string }> {
  const url = endpoint === 'chat' ? '/v1/chat/completions' : '/v1/completions';
  const res = await server.app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload });
  return { status: res.statusCode, body: res.body };
}

/** The property every answer must satisfy; returns the error object of a 4xx. */
function expectOkOrNamedError(status: number, body: string, what: string): OpenAiErrorBody['error'] | null {
  expect(status, `${what} -> ${status} ${body.slice(0, 300)}`).toBeLessThan(500);
  if (status < 400) return null;
  const error = (JSON.parse(body) as OpenAiErrorBody).error;
  expect(typeof error.message, what).toBe('string');
  expect(typeof error.type, what).toBe('string');
  expect(typeof error.param, `${what}: param names a field, got ${JSON.stringify(error)}`).toBe('string');
  // NOTE: the one empty name allowed is an unknown field that is itself called "".
  if (error.param === '') expect(error.code, `${what}: empty param`).toBe('unknown_field');
  return error;
}

describe('HTTP bad input (property-based)', () => {
  for (const endpoint of ['completions', 'chat'] as const) {
    it(`${endpoint}: mutated bodies get 2xx or a 4xx naming a field, never a 5xx`, { timeout: 120_000 }, async () => {
      await fc.assert(
        fc.asyncProperty(mutatedBody(endpoint), async (body) => {
          const text = toJsonText(body);
          const res = await post(endpoint, text);
          expectOkOrNamedError(res.status, res.body, text);
        }),
        { seed: endpoint === 'chat' ? 902 : 901, numRuns: 300 },
      );
    });
  }

  it('invalid JSON text is a 400 invalid_json naming the body', { timeout: 60_000 }, async () => {
    const notJson = fc.oneof(
      fc.string({ maxLength: 64 }),
      fc.constantFrom('{', '{"model":', '{"model": "tiny", "prompt": "hi",}', "{'model': 'tiny'}", '{"a":1}{', 'NaN', '[1,,2]', '{"prompt": "\\x41"}', '\u0000'),
      fc.nat({ max: 40 }).map((cut) => JSON.stringify(VALID.completions).slice(0, cut)),
    ).filter((s) => !parses(s));
    await fc.assert(
      fc.asyncProperty(notJson, async (text) => {
        const res = await post('completions', text);
        const error = expectOkOrNamedError(res.status, res.body, JSON.stringify(text));
        expect(res.status).toBe(400);
        expect(error?.param).toBe('body');
      }),
      { seed: 903, numRuns: 100 },
    );
  });

  it('bodies over the size limit are a 400 body_too_large naming the body', { timeout: 60_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: BODY_LIMIT + 1, max: 4 * BODY_LIMIT }), async (size) => {
        const filler = 'z'.repeat(size);
        const res = await post('completions', JSON.stringify({ ...VALID.completions, prompt: filler }));
        const error = expectOkOrNamedError(res.status, res.body, `${size}-byte prompt`);
        expect(error?.code).toBe('body_too_large');
      }),
      { seed: 904, numRuns: 20 },
    );
  });

  it('the server is still up afterwards: a valid request over a real socket works and nothing is in flight', async () => {
    const url = await server.listen({ host: '127.0.0.1', port: 0 });
    const res = await fetch(`${url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(VALID.completions) });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { choices: Array<{ finish_reason: string }> }).choices[0].finish_reason).toBe('length');
    const stats = await server.engine.stats();
    expect(stats.active).toBe(0);
    expect(stats.pool.used).toBe(0);
  });
});

function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
