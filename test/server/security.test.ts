/**
 * Access control over a real socket: with an API key every route but /health needs
 * `Authorization: Bearer <key>` (401 in the OpenAI shape otherwise, the openai client included);
 * a loopback-bound server answers only loopback Host names (a DNS-rebinding page's
 * `Host: evil.example` gets 403); a non-loopback bind without a key is refused unless insecure.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, ServerOptionsError, type OpenAiErrorBody } from '@baton/server';
import { rawRequest, type RawResponse } from './raw-http.js';
import { post, startServer, type RunningServer } from './server-fixture.js';

const KEY = 'sk-baton-test-0123456789';
let running: RunningServer;
beforeAll(async () => {
  running = await startServer({ mode: 'single' }, { apiKey: KEY, allowedHosts: ['baton.internal'] });
});
afterAll(async () => {
  await running?.server.close();
});

const get = (path: string, host: string, extra = ''): Promise<RawResponse> =>
  rawRequest(running.url, `GET ${path} HTTP/1.1\r\nHost: ${host}\r\n${extra}Connection: close\r\n\r\n`);

describe('API key', () => {
  it('refuses a request without the key with 401 in the OpenAI shape', async () => {
    const variants: Array<Record<string, string>> = [{}, { authorization: 'Bearer wrong' }, { authorization: `Basic ${KEY}` }];
    for (const headers of variants) {
      const res = await post(`${running.url}/v1/completions`, { model: 'baton-tiny', prompt: 'x', max_tokens: 1 }, headers);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer');
      const body = (await res.json()) as OpenAiErrorBody;
      expect(body.error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_api_key', param: null });
    }
    expect((await fetch(`${running.url}/metrics`)).status).toBe(401);
    expect((await fetch(`${running.url}/v1/models`)).status).toBe(401);
  });

  it('serves the openai client that sends the key, and /health without one', async () => {
    const client = new OpenAI({ baseURL: `${running.url}/v1`, apiKey: KEY, maxRetries: 0 });
    const c = await client.completions.create({ model: 'baton-tiny', prompt: 'key', max_tokens: 2 });
    expect(c.choices).toHaveLength(1);
    const wrong = new OpenAI({ baseURL: `${running.url}/v1`, apiKey: 'nope', maxRetries: 0 });
    expect(await wrong.models.list().catch((e: unknown) => e)).toBeInstanceOf(OpenAI.AuthenticationError);
    expect((await fetch(`${running.url}/health`)).status).toBe(200);
  });
});

describe('Host header on a loopback bind', () => {
  const port = (): string => new URL(running.url).port;

  it('answers 403 in the OpenAI shape to a foreign Host (DNS rebinding)', async () => {
    for (const host of ['evil.example', `evil.example:${port()}`, `127.0.0.1.evil.example:${port()}`]) {
      const r = await get('/health', host);
      expect(r.status, host).toBe(403);
      expect((JSON.parse(r.body) as OpenAiErrorBody).error).toMatchObject({ code: 'host_not_allowed', param: 'host' });
    }
    const withKey = await get('/v1/models', 'evil.example', `Authorization: Bearer ${KEY}\r\n`);
    expect(withKey.status).toBe(403);
  });

  it('answers localhost, 127.0.0.1 and [::1], with or without a port, and the configured extra name', async () => {
    for (const host of [`localhost:${port()}`, `127.0.0.1:${port()}`, `[::1]:${port()}`, 'localhost', `baton.internal:${port()}`]) {
      expect((await get('/health', host)).status, host).toBe(200);
    }
  });
});

describe('listening beyond loopback', () => {
  it('refuses without an API key unless insecure, naming the host', async () => {
    const server = await createServer({ engineOptions: { model: 'baton-tiny', backend: 'wasm', mode: 'single' } });
    try {
      const error = await server.listen({ host: '0.0.0.0', port: 0 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ServerOptionsError);
      expect((error as ServerOptionsError).option).toBe('host');
      expect(server.app.server.listening).toBe(false);
    } finally {
      await server.close();
    }
  });

  it('listens with a key, and then checks the key instead of the Host', async () => {
    const server = await createServer({ engineOptions: { model: 'baton-tiny', backend: 'wasm', mode: 'single' }, apiKey: KEY });
    try {
      const url = (await server.listen({ host: '0.0.0.0', port: 0 })).replace('0.0.0.0', '127.0.0.1');
      const r = await rawRequest(url, `GET /v1/models HTTP/1.1\r\nHost: baton.example.com\r\nAuthorization: Bearer ${KEY}\r\nConnection: close\r\n\r\n`);
      expect(r.status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it('listens without a key when told insecure', async () => {
    const server = await createServer({ engineOptions: { model: 'baton-tiny', backend: 'wasm', mode: 'single' }, insecure: true });
    try {
      const url = (await server.listen({ host: '0.0.0.0', port: 0 })).replace('0.0.0.0', '127.0.0.1');
      expect((await fetch(`${url}/v1/models`)).status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it('rejects bad access options before starting an engine', async () => {
    await expect(createServer({ apiKey: 'has space' })).rejects.toThrow(ServerOptionsError);
    await expect(createServer({ maxConnections: 0 })).rejects.toThrow(/maxConnections/);
    await expect(createServer({ headersTimeoutMs: 5_000, bodyTimeoutMs: 1_000 })).rejects.toThrow(/headersTimeoutMs/);
  });
});
