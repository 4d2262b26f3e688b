/**
 * Bad input over HTTP: every failure is an OpenAI-style error object naming the field — wrong
 * types, unknown fields, negative or huge max_tokens, a prompt longer than the context, invalid
 * JSON, a body over the size limit, a body not sent as JSON, an unknown model, route or method.
 * Every message reads `<param>: <problem>`, whether the server's schema or the engine found it.
 * Overload gives 429 with Retry-After; the server keeps serving afterwards.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OpenAiErrorBody } from '@baton/server';
import { post, startServer, type RunningServer } from './server-fixture.js';

let running: RunningServer;
beforeAll(async () => {
  running = await startServer({}, { bodyLimitBytes: 64 * 1024 });
});
afterAll(async () => {
  await running?.server.close();
});

async function expectError(res: Response, status: number, param: string | null): Promise<OpenAiErrorBody['error']> {
  expect(res.status).toBe(status);
  const body = (await res.json()) as OpenAiErrorBody;
  expect(body.error.param).toBe(param);
  expect(typeof body.error.message).toBe('string');
  expect(body.error.type).toBeTypeOf('string');
  return body.error;
}

const completions = (): string => `${running.url}/v1/completions`;
const chat = (): string => `${running.url}/v1/chat/completions`;
const ok = { model: 'baton-tiny', prompt: 'hi', max_tokens: 2 };

describe('400 naming the field', () => {
  it.each([
    ['a string max_tokens', { ...ok, max_tokens: '5' }, 'max_tokens'],
    ['a negative max_tokens', { ...ok, max_tokens: -3 }, 'max_tokens'],
    ['a fractional max_tokens', { ...ok, max_tokens: 2.5 }, 'max_tokens'],
    ['a huge max_tokens', { ...ok, max_tokens: 1_000_000 }, 'max_tokens'],
    ['a temperature out of range', { ...ok, temperature: 7 }, 'temperature'],
    ['a top_p of 0', { ...ok, top_p: 0 }, 'top_p'],
    ['a boolean stream given as string', { ...ok, stream: 'yes' }, 'stream'],
    ['an unknown field', { ...ok, frobnicate: true }, 'frobnicate'],
    ['an unsupported n', { ...ok, n: 3 }, 'n'],
    ['a missing prompt', { model: 'baton-tiny' }, 'prompt'],
    ['an object prompt', { ...ok, prompt: { text: 'hi' } }, 'prompt'],
    ['a token id outside the vocabulary', { ...ok, prompt: [1, 2, 999_999] }, 'prompt[2]'],
    ['a prompt longer than the context', { ...ok, prompt: 'x'.repeat(5000) }, 'prompt'],
    ['an empty prompt', { ...ok, prompt: '' }, 'prompt'],
    ['max_tokens past the context', { ...ok, prompt: 'x'.repeat(1020), max_tokens: 10 }, 'max_tokens'],
  ])('completions: %s', async (_name, body, param) => {
    await expectError(await post(completions(), body), 400, param);
  });

  it.each([
    ['no messages', { model: 'baton-tiny', messages: [] }, 'messages'],
    ['a bad role', { model: 'baton-tiny', messages: [{ role: 'robot', content: 'x' }] }, 'messages[0].role'],
    ['an image part', { model: 'baton-tiny', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: 'x' }] }] }, 'messages[0].content'],
    ['an unknown message field', { model: 'baton-tiny', messages: [{ role: 'user', content: 'x', mood: 'happy' }] }, 'messages[0].mood'],
    ['a conversation longer than the context', { model: 'baton-tiny', messages: [{ role: 'user', content: 'y'.repeat(5000) }] }, 'messages'],
    ['a negative max_completion_tokens', { model: 'baton-tiny', messages: [{ role: 'user', content: 'x' }], max_completion_tokens: -1 }, 'max_completion_tokens'],
  ])('chat: %s', async (_name, body, param) => {
    await expectError(await post(chat(), body), 400, param);
  });

  it('invalid JSON', async () => {
    const e = await expectError(await post(completions(), '{"model": "baton-tiny", "prompt": '), 400, 'body');
    expect(e.code).toBe('invalid_json');
  });

  it('a body over the size limit', async () => {
    const e = await expectError(await post(completions(), { ...ok, prompt: 'z'.repeat(100 * 1024) }), 400, 'body');
    expect(e.code).toBe('body_too_large');
  });

  it('an unknown model is 404 model_not_found, an unknown route 404', async () => {
    const e = await expectError(await post(completions(), { ...ok, model: 'gpt-4' }), 404, 'model');
    expect(e.code).toBe('model_not_found');
    await expectError(await fetch(`${running.url}/v1/nothing`), 404, null);
  });

  it('writes every field message in one style: "<param>: <problem>", no framework or engine wording', async () => {
    const bodies: Array<[string, unknown]> = [
      [completions(), { ...ok, max_tokens: '5' }],
      [completions(), { ...ok, max_tokens: -3 }],
      [completions(), { ...ok, max_tokens: 2.5 }],
      [completions(), { ...ok, temperature: 7 }],
      [completions(), { ...ok, top_p: 0 }],
      [completions(), { ...ok, stream: 'yes' }],
      [completions(), { model: 'baton-tiny' }],
      [completions(), { ...ok, prompt: [1, 2, 999_999] }],
      [completions(), { ...ok, prompt: 'x'.repeat(5000) }],
      [completions(), { ...ok, prompt: 'x'.repeat(1020), max_tokens: 10 }],
      [completions(), { ...ok, frobnicate: true }],
      [completions(), 42],
      [chat(), { model: 'baton-tiny', messages: [{ role: 'robot', content: 'x' }] }],
      [chat(), { model: 'baton-tiny', messages: [] }],
    ];
    for (const [url, body] of bodies) {
      const res = await post(url, body);
      const e = ((await res.json()) as OpenAiErrorBody).error;
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(e.message.startsWith(`${e.param}: `), e.message).toBe(true);
      expect(e.message).not.toMatch(/Invalid input|invalid request field|Too (small|big)|expected \w+ to be|maxTokens|topP/);
    }
  });

  it('a body not sent as JSON (curl -d sends form encoding) is 415 saying to send application/json', async () => {
    for (const type of ['application/x-www-form-urlencoded', 'text/plain']) {
      const res = await post(completions(), ok, { 'content-type': type });
      const e = await expectError(res, 415, 'body');
      expect(e.code).toBe('unsupported_media_type');
      expect(e.message).toContain('Content-Type: application/json');
    }
  });

  it('a known route with the wrong method is 405 with Allow; a bad URL is 400', async () => {
    const res = await fetch(completions());
    const e = await expectError(res, 405, null);
    expect(e.code).toBe('method_not_allowed');
    expect(res.headers.get('allow')).toBe('POST');
    const models = await fetch(`${running.url}/v1/models`, { method: 'DELETE' });
    await expectError(models, 405, null);
    expect(models.headers.get('allow')).toBe('GET, HEAD');
    const bad = await fetch(`${running.url}/%`);
    expect((await expectError(bad, 400, null)).code).toBe('invalid_url');
  });

  it('still serves after all of that', async () => {
    const res = await post(completions(), ok);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { choices: Array<{ finish_reason: string }> };
    expect(body.choices[0].finish_reason).toBe('length');
  });
});

describe('health, models and metrics', () => {
  it('answers GET /health and /v1/models', async () => {
    const health = await fetch(`${running.url}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', mode: 'disaggregated' });
    const models = (await (await fetch(`${running.url}/v1/models`)).json()) as { data: Array<{ id: string }> };
    expect(models.data[0].id).toBe('baton-tiny');
  });

  it('exposes Prometheus counters, histograms and per-actor gauges', async () => {
    const text = await (await fetch(`${running.url}/metrics`)).text();
    expect(text).toMatch(/^baton_requests_total\{endpoint="completions",outcome="length"\} [1-9]\d*$/m);
    expect(text).toMatch(/^baton_requests_total\{endpoint="completions",outcome="invalid"\} [1-9]\d*$/m);
    expect(text).toMatch(/^baton_ttft_ms_bucket\{le="\+Inf"\} [1-9]\d*$/m);
    expect(text).toMatch(/^baton_tpot_ms_count [1-9]\d*$/m);
    expect(text).toMatch(/^baton_actor_queue_length\{actor="prefill-0",role="prefill"\} \d+$/m);
    expect(text).toMatch(/^baton_actor_kv_blocks_used\{actor="decode-0",role="decode"\} \d+$/m);
  });
});

describe('overload', () => {
  it('answers 429 with Retry-After when the scheduler rejects early, and serves the accepted ones', async () => {
    const small = await startServer({ queue: { maxRequests: 2, maxPromptTokens: 100_000 } });
    try {
      const url = `${small.url}/v1/completions`;
      const responses = await Promise.all(Array.from({ length: 24 }, (_, i) => post(url, { model: 'baton-tiny', prompt: `burst ${i} `.repeat(20), max_tokens: 4 })));
      const rejected = responses.filter((r) => r.status === 429);
      expect(rejected.length).toBeGreaterThan(0);
      expect(responses.filter((r) => r.status === 200).length).toBeGreaterThan(0);
      expect(responses.every((r) => r.status === 200 || r.status === 429)).toBe(true);
      for (const r of rejected) {
        expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
        expect(((await r.json()) as OpenAiErrorBody).error.code).toBe('overloaded');
      }
      await Promise.all(responses.filter((r) => r.status === 200).map((r) => r.text()));
    } finally {
      await small.server.close();
    }
  });
});
