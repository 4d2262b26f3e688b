/**
 * Clients that hold connections without finishing a request cannot starve the others: at the
 * connection cap a new client takes the place of the oldest stalled one (a request body that never
 * ends), a body that does not arrive in time gets 408, an idle kept-alive connection is closed, and
 * only when every connection is busy with a response does a new one get 503 with Retry-After.
 * NOTE: caps and timeouts are lowered so the test runs in seconds; the defaults are 512
 * connections, 10 s for headers, 30 s for the whole request, 5 s idle.
 */
import type net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { OpenAiErrorBody } from '@baton/server';
import { eventually } from '../support/eventually.js';
import { collect, connect, hostLine, rawRequest } from './raw-http.js';
import { post, startServer, type RunningServer } from './server-fixture.js';

const opened: net.Socket[] = [];
const servers: RunningServer[] = [];
afterEach(async () => {
  for (const s of opened.splice(0)) s.destroy();
  for (const s of servers.splice(0)) await s.server.close();
});

/** NOTE: a single-actor engine unless a test needs the handoff (it starts fastest). */
async function start(options: Parameters<typeof startServer>[1], engine: Parameters<typeof startServer>[0] = { mode: 'single' }): Promise<RunningServer> {
  const s = await startServer(engine, options);
  servers.push(s);
  return s;
}

/** A connection that sent complete headers and part of a body that never ends. */
async function halfOpenBody(url: string): Promise<{ socket: net.Socket; closed: Promise<boolean> }> {
  const socket = await connect(url);
  opened.push(socket);
  const closed = new Promise<boolean>((resolve) => socket.once('close', () => resolve(true)));
  socket.on('error', () => undefined);
  socket.write(`POST /v1/completions HTTP/1.1\r\n${hostLine(url)}Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"model":`);
  return { socket, closed };
}

describe('stalled clients', () => {
  it('serves a new client although many half-open bodies fill the connection cap', async () => {
    const s = await start({ maxConnections: 8, bodyTimeoutMs: 120_000, headersTimeoutMs: 60_000 });
    const stalled = [];
    for (let i = 0; i < 20; i++) stalled.push(await halfOpenBody(s.url));
    await eventually(() => s.server.connections <= 8, { what: 'connections back under the cap' });
    const res = await post(`${s.url}/v1/completions`, { model: 'baton-tiny', prompt: 'still here', max_tokens: 3 });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { choices: unknown[] }).choices).toHaveLength(1);
    // The oldest stalled connections made room; the newest are still open.
    expect(await Promise.race([stalled[0].closed, new Promise((r) => setTimeout(() => r(false), 5_000))])).toBe(true);
    expect(s.server.connections).toBeLessThanOrEqual(8);
  });

  it('answers a body that does not arrive in time with 408 and closes the connection', async () => {
    const s = await start({ headersTimeoutMs: 200, bodyTimeoutMs: 400 });
    const { socket } = await halfOpenBody(s.url);
    const r = await collect(socket, 20_000);
    expect(r.status).toBe(408);
    expect(((JSON.parse(r.body)) as OpenAiErrorBody).error.code).toBe('request_timeout');
    expect(r.closed).toBe(true);
  });

  it('closes a connection that never sends a request, and one kept alive but idle', async () => {
    const s = await start({ headersTimeoutMs: 200, bodyTimeoutMs: 400, idleTimeoutMs: 200 });
    const silent = await connect(s.url);
    opened.push(silent);
    expect((await collect(silent, 20_000)).closed).toBe(true);
    const r = await rawRequest(s.url, `GET /v1/models HTTP/1.1\r\n${hostLine(s.url)}\r\n`, 20_000, () => false);
    expect(r.status).toBe(200);
    expect(r.headers.connection).toBe('keep-alive');
    expect(r.closed).toBe(true);
  });

  it('gives a new connection 503 with Retry-After only when every connection is busy with a response', async () => {
    // NOTE: the fault plan delays each handed-off layer by 300 ms, so both streams stay in flight.
    const s = await start({ maxConnections: 2 }, { faults: { handoffDelayMs: 300 } });
    const abort = new AbortController();
    const stream = (): Promise<Response> =>
      fetch(`${s.url}/v1/completions`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, signal: abort.signal,
        body: JSON.stringify({ model: 'baton-tiny', prompt: 'busy', max_tokens: 900, stream: true }),
      });
    try {
      const busy = await Promise.all([stream(), stream()]);
      expect(busy.map((r) => r.status)).toEqual([200, 200]);
      const r = await rawRequest(s.url, `GET /v1/models HTTP/1.1\r\n${hostLine(s.url)}\r\n`);
      expect(r.status).toBe(503);
      expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(((JSON.parse(r.body)) as OpenAiErrorBody).error.code).toBe('too_many_connections');
    } finally {
      abort.abort();
    }
    await eventually(() => s.server.connections === 0, { what: 'aborted streams closed their connections' });
    const again = await rawRequest(s.url, `GET /v1/models HTTP/1.1\r\n${hostLine(s.url)}Connection: close\r\n\r\n`);
    expect(again.status).toBe(200);
  });
});
