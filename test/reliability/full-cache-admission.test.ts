/**
 * A full KV cache: requests that cannot start are refused early, with a retryable error, instead
 * of queueing without bound. With most of the pool held (`faults.reserveKvBlocks`), a prompt that
 * needs more blocks than are free waits for KV; past `queue.maxWaitMs` (on by default, 10 s) it is
 * refused with `OverloadedError` (HTTP 429 with Retry-After), while a short request that fits is
 * still served with its reference tokens. In a child process (placement 'process') the same
 * bound refuses a prompt its process's own pool cannot take. Nothing stays in use afterwards.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createEngine, resolveOptions, OverloadedError, type Engine } from '@baton/engine';
import type { OpenAiErrorBody } from '@baton/server';
import { referenceIds } from '../support/reference.js';
import { eventually } from '../support/eventually.js';
import { post, startServer, type RunningServer } from '../server/server-fixture.js';

let engine: Engine | null = null;
let running: RunningServer | null = null;
afterEach(async () => {
  await engine?.close({ deadlineMs: 0 });
  engine = null;
  await running?.server.close();
  running = null;
});

const LONG = Array.from({ length: 200 }, (_, i) => 32 + (i % 90));
const SHORT = [72, 101, 108, 108, 111];
/** 64 blocks of 16 tokens, 60 held: 64 tokens free, the long prompt needs 13 blocks. */
const FULL = { kv: { blockSize: 16, numBlocks: 64 }, faults: { reserveKvBlocks: 60 } } as const;

describe('a request that cannot start under a full KV cache', () => {
  it('is bounded by default', () => {
    expect(resolveOptions({}).queue.maxWaitMs).toBe(10_000);
    expect(resolveOptions({ queue: { maxWaitMs: null } }).queue.maxWaitMs).toBeNull();
  });

  it('is refused with a retryable OverloadedError after the default wait, while a short request is served', { timeout: 120_000 }, async () => {
    engine = await createEngine({ model: 'baton-tiny', backend: 'wasm', prefill: 1, decode: 1, ...FULL });
    const e = engine;
    const long = e.generate({ prompt: LONG, maxTokens: 4 }).result;
    const short = await e.generate({ prompt: SHORT, maxTokens: 4 }).result;
    expect(short.finishReason).toBe('length');
    expect(short.ids).toEqual(await referenceIds('baton-tiny', SHORT, 4));
    const refusal = await long.then(() => null, (error: unknown) => error);
    expect(refusal).toBeInstanceOf(OverloadedError);
    const overloaded = refusal as OverloadedError;
    expect(overloaded.estimate).toBe('queue');
    expect(overloaded.retryAfterMs).toBeGreaterThan(0);
    expect(overloaded.message).toMatch(/waited \d+ ms to start/);
    const stats = await e.stats();
    expect(stats.refusedQueued).toBe(1);
    expect(stats.active).toBe(0);
    expect(stats.pool.used, 'only the reserved blocks').toBe(60);
    // The engine serves normally afterwards.
    expect((await e.generate({ prompt: SHORT, maxTokens: 2 }).result).finishReason).toBe('length');
  });

  it('gets HTTP 429 with Retry-After (streamed or not), in the OpenAI error shape', { timeout: 120_000 }, async () => {
    running = await startServer({ ...FULL, queue: { maxWaitMs: 500 } });
    const url = `${running.url}/v1/completions`;
    for (const stream of [false, true]) {
      const res = await post(url, { model: 'baton-tiny', prompt: LONG, max_tokens: 4, stream });
      expect(res.status, `stream: ${stream}`).toBe(429);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      const body = (await res.json()) as OpenAiErrorBody;
      expect(body.error.code).toBe('overloaded');
      expect(body.error.type).toBe('rate_limit_error');
    }
    const ok = await post(url, { model: 'baton-tiny', prompt: SHORT, max_tokens: 3 });
    expect(ok.status).toBe(200);
  });

  it('in a child process: refused the same way when its own pool cannot take the prompt', { timeout: 120_000 }, async () => {
    // 8 blocks of 16 tokens per process: the 200-token prompt never fits.
    engine = await createEngine({
      model: 'baton-tiny', backend: 'wasm', prefill: 1, decode: 1, placement: 'process', kv: { blockSize: 16, numBlocks: 8 }, queue: { maxWaitMs: 1_000 },
    });
    const e = engine;
    const refusal = await e.generate({ prompt: LONG, maxTokens: 4 }).result.then(() => null, (error: unknown) => error);
    expect(refusal).toBeInstanceOf(OverloadedError);
    const short = await e.generate({ prompt: SHORT, maxTokens: 4 }).result;
    expect(short.ids).toEqual(await referenceIds('baton-tiny', SHORT, 4));
    // NOTE: the decode process sends a finished sequence's KV back to the prefill process's pool
    // (transfer-with-insert) after the request's result, holding its blocks until that stream ends.
    const used = await eventually(async () => (await e.stats()).pools.map((p) => `${p.name}: ${p.stats.used}`), {
      until: (pools) => pools.every((p) => p.endsWith(': 0')), what: 'every pool back to no block in use', timeoutMs: 30_000,
    });
    expect(used.length).toBeGreaterThan(1);
  });
});
