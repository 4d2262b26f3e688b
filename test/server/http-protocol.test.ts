/**
 * The error contract below the routes: requests that Node's HTTP parser rejects (headers too
 * large, a malformed request line, Content-Length with Transfer-Encoding, two Content-Lengths, a
 * NUL in a header), a bad URL, a missing Host, an unsupported Expect or CONNECT — each gets a real
 * HTTP response with the OpenAI error body, and the connection is closed. A streamed response
 * honours the client's `Connection: close`. Sent over raw sockets: no client library sends these.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OpenAiErrorBody } from '@baton/server';
import { hostLine, rawRequest, type RawResponse } from './raw-http.js';
import { startServer, type RunningServer } from './server-fixture.js';

let running: RunningServer;
beforeAll(async () => {
  running = await startServer();
});
afterAll(async () => {
  await running?.server.close();
});

function expectErrorShape(r: RawResponse, status: number, code: string): OpenAiErrorBody['error'] {
  expect(r.status).toBe(status);
  expect(r.headers['content-type']).toMatch(/^application\/json/);
  const body = JSON.parse(r.body) as OpenAiErrorBody;
  expect(Object.keys(body)).toEqual(['error']);
  expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
  expect(body.error.code).toBe(code);
  expect(body.error.message.length).toBeGreaterThan(0);
  return body.error;
}

describe('requests the HTTP parser rejects get the OpenAI error shape', () => {
  const post = (headers: string, body: string): string =>
    `POST /v1/completions HTTP/1.1\r\n${hostLine(running.url)}Content-Type: application/json\r\n${headers}\r\n${body}`;

  it.each([
    ['headers over the size limit', () => `GET /v1/models HTTP/1.1\r\n${hostLine(running.url)}X-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431, 'headers_too_large'],
    ['a malformed request line', () => 'GARBAGE\r\n\r\n', 400, 'malformed_request'],
    ['Content-Length with Transfer-Encoding', () => post('Content-Length: 5\r\nTransfer-Encoding: chunked\r\n', '0\r\n\r\n'), 400, 'malformed_request'],
    ['two Content-Length headers', () => post('Content-Length: 2\r\nContent-Length: 3\r\n', '{}'), 400, 'malformed_request'],
    ['a NUL byte in a header', () => `GET /v1/models HTTP/1.1\r\n${hostLine(running.url)}X-A: a\0b\r\n\r\n`, 400, 'malformed_request'],
    ['an Expect other than 100-continue', () => post('Expect: something\r\nContent-Length: 2\r\n', '{}'), 417, 'expectation_failed'],
    ['a CONNECT', () => `CONNECT example.com:443 HTTP/1.1\r\n${hostLine(running.url)}\r\n`, 405, 'method_not_allowed'],
  ])('%s', async (_name, request, status, code) => {
    const r = await rawRequest(running.url, request());
    expectErrorShape(r, status, code);
    expect(r.closed).toBe(true);
  });

  it.each([
    ['a URL that does not decode', `GET /% HTTP/1.1\r\n${'HOST'}Connection: close\r\n\r\n`, 400, 'invalid_url'],
    ['an HTTP/1.1 request without Host', 'GET /v1/models HTTP/1.1\r\nConnection: close\r\n\r\n', 400, 'missing_host'],
    ['an unknown route', `GET /nowhere HTTP/1.1\r\n${'HOST'}Connection: close\r\n\r\n`, 404, 'not_found'],
    ['a known route with the wrong method', `PUT /v1/completions HTTP/1.1\r\n${'HOST'}Content-Length: 0\r\nConnection: close\r\n\r\n`, 405, 'method_not_allowed'],
  ])('%s', async (_name, request, status, code) => {
    const r = await rawRequest(running.url, request.replace('HOST', hostLine(running.url)));
    expectErrorShape(r, status, code);
  });

  it('keeps serving afterwards', async () => {
    const r = await rawRequest(running.url, `GET /v1/models HTTP/1.1\r\n${hostLine(running.url)}Connection: close\r\n\r\n`);
    expect(r.status).toBe(200);
  });
});

describe('Connection: close', () => {
  it('closes the socket after a streamed response when the client asked for it', async () => {
    const body = JSON.stringify({ model: 'baton-tiny', prompt: 'close me', max_tokens: 4, stream: true });
    const request =
      `POST /v1/completions HTTP/1.1\r\n${hostLine(running.url)}Content-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
    const r = await rawRequest(running.url, request, 30_000);
    expect(r.status).toBe(200);
    expect(r.headers.connection).toBe('close');
    expect(r.body).toContain('data: [DONE]');
    expect(r.closed).toBe(true);
  });

  it('keeps an HTTP/1.1 streamed response alive when the client did not ask to close', async () => {
    const body = JSON.stringify({ model: 'baton-tiny', prompt: 'keep me', max_tokens: 4, stream: true });
    const request =
      `POST /v1/completions HTTP/1.1\r\n${hostLine(running.url)}Content-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    const r = await rawRequest(running.url, request, 30_000, (data) => data.includes('data: [DONE]'));
    expect(r.status).toBe(200);
    expect(r.headers.connection).toBe('keep-alive');
    expect(r.body).toContain('data: [DONE]');
    expect(r.closed).toBe(false);
  });
});
