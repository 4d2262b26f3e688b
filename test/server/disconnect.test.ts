/**
 * A client that disconnects mid-request aborts it: the engine frees the request's KV (every
 * actor's KV blocks used, and the pool's referenced blocks, return to 0) and the server counts the
 * request as aborted — it did not run to its 900 tokens.
 * NOTE: the client disconnects as soon as the response starts (streaming) or the engine has the
 * request (not streaming). The engine injects a 300 ms delay per handed-off layer (fault plan), so
 * every request is still in flight when the client leaves, however fast the machine decodes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startServer, type RunningServer } from './server-fixture.js';

let running: RunningServer;
beforeAll(async () => {
  running = await startServer({ faults: { handoffDelayMs: 300 } });
});
afterAll(async () => {
  await running?.server.close();
});

async function kvIdle(): Promise<boolean> {
  const stats = await running.server.engine.stats();
  return stats.active === 0 && stats.pool.used === 0 && stats.actors.every((a) => a.kvBlocksUsed === 0);
}

async function aborted(endpoint: string): Promise<number> {
  const text = await (await fetch(`${running.url}/metrics`)).text();
  return Number(new RegExp(`^baton_requests_total\\{endpoint="${endpoint}",outcome="abort"\\} (\\d+)$`, 'm').exec(text)?.[1]);
}

function start(kind: 'completions' | 'chat', stream: boolean, signal: AbortSignal): Promise<Response> {
  const url = kind === 'chat' ? `${running.url}/v1/chat/completions` : `${running.url}/v1/completions`;
  const common = { model: 'baton-tiny', max_tokens: 900, temperature: 0, stream };
  const body = kind === 'chat' ? { ...common, messages: [{ role: 'user', content: 'go on' }] } : { ...common, prompt: 'go on' };
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal });
}

describe('client disconnect', () => {
  it.each([['completions' as const], ['chat' as const]])('aborts a streamed %s request and frees its KV', async (kind) => {
    const before = await aborted(kind);
    const abort = new AbortController();
    const res = await start(kind, true, abort.signal);
    expect(res.status).toBe(200);
    abort.abort();
    expect(await eventually(kvIdle)).toBe(true);
    expect(await aborted(kind)).toBe(before + 1);
  });

  it('aborts a non-streamed request whose client went away', async () => {
    const before = await aborted('completions');
    const abort = new AbortController();
    const res = start('completions', false, abort.signal).catch((e: unknown) => e);
    expect(await eventually(async () => (await running.server.engine.stats()).active === 1)).toBe(true);
    abort.abort();
    expect(await res).toBeInstanceOf(Error);
    expect(await eventually(kvIdle)).toBe(true);
    expect(await aborted('completions')).toBe(before + 1);
  });
});
