/**
 * The multi-process deployment (ProcessEngine): prefill and decode roles in forked OS processes,
 * each with its own KV pool, KV over loopback sockets. Greedy tokens equal the single-process
 * engine's; a decode process killed with SIGKILL mid-request is reported and restarted, the
 * request it held ends with an error (no hang), and the engine serves again afterwards; the
 * HTTP server runs on it unchanged.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActorFailedError, createEngine, createProcessEngine, type ProcessEngine, type ProcessEvent } from '@baton/engine';
import { createServer } from '@baton/server';
import { eventually } from '../support/eventually.js';

let engine: ProcessEngine;
const events: ProcessEvent[] = [];

beforeAll(async () => {
  engine = await createProcessEngine({ model: 'baton-tiny', backend: 'wasm', prefill: 1, decode: 2 });
  engine.events.on('process', (e) => events.push(e));
});
afterAll(async () => {
  await engine?.close({ deadlineMs: 0 });
  // Every serving process is gone after close.
  for (const p of engine?.processes() ?? []) if (p.pid !== null) expect(() => process.kill(p.pid!, 0)).toThrow();
});


describe('multi-process deployment', () => {
  it('runs every serving role in its own OS process', () => {
    const pids = engine.processes().map((p) => p.pid);
    expect(engine.processes().map((p) => p.name).sort()).toEqual(['decode-0', 'decode-1', 'prefill-0']);
    expect(new Set(pids).size).toBe(3);
    expect(pids).not.toContain(process.pid);
  });

  it('produces the same greedy tokens as the single-process engine', async () => {
    const prompts = ['Hello there', 'The quick brown fox jumps', 'abc', 'x'.repeat(100)];
    const single = await createEngine({ model: 'baton-tiny', backend: 'wasm', mode: 'single' });
    try {
      const expected = await Promise.all(prompts.map((prompt) => single.generate({ prompt, maxTokens: 24 }).result));
      const got = await Promise.all(prompts.map((prompt) => engine.generate({ prompt, maxTokens: 24 }).result));
      expect(got.map((r) => r.ids)).toEqual(expected.map((r) => r.ids));
      expect(got.every((r) => r.finishReason === 'length')).toBe(true);
    } finally {
      await single.close({ deadlineMs: 0 });
    }
    const stats = await engine.stats();
    expect(stats.scheduler.pool.used).toBe(0);
    expect(stats.actors.every((a) => a.kvBlocksUsed === 0)).toBe(true);
  });

  it('notices a decode process killed mid-request, fails its request, restarts it, and serves again', async () => {
    const generation = engine.generate({ prompt: 'kill me', maxTokens: 900 });
    const iterator = generation[Symbol.asyncIterator]();
    await iterator.next();
    await iterator.next();
    const stats = await engine.stats();
    const holder = stats.actors.find((a) => a.role === 'decode' && a.running > 0);
    expect(holder).toBeDefined();
    const victim = engine.processes().find((p) => p.name === holder!.name)!;
    process.kill(victim.pid!, 'SIGKILL');
    let final;
    for (let next = await iterator.next(); next.done !== true; next = await iterator.next()) final = next.value;
    expect(final?.type).toBe('final');
    const result = await generation.result;
    expect(result.finishReason).toBe('error');
    expect(result.error).toBeInstanceOf(ActorFailedError);
    expect(result.ids.length).toBeLessThan(900);
    await eventually(() => events.some((e) => e.type === 'restarted' && e.name === victim.name), { timeoutMs: 60_000, what: `${victim.name} restarted` });
    expect(events.find((e) => e.type === 'exited')).toMatchObject({ name: victim.name, detail: 'killed by SIGKILL' });
    expect(engine.processes().find((p) => p.name === victim.name)!.pid).not.toBe(victim.pid);
    const after = await Promise.all(['again', 'and again', 'once more'].map((prompt) => engine.generate({ prompt, maxTokens: 8 }).result));
    expect(after.map((r) => r.finishReason)).toEqual(['length', 'length', 'length']);
  });

  it('restarts a killed prefill process', async () => {
    const victim = engine.processes().find((p) => p.name === 'prefill-0')!;
    process.kill(victim.pid!, 'SIGKILL');
    await eventually(() => events.some((e) => e.type === 'restarted' && e.name === 'prefill-0'), { timeoutMs: 60_000, what: 'prefill-0 restarted' });
    const r = await engine.generate({ prompt: 'back', maxTokens: 5 }).result;
    expect(r.finishReason).toBe('length');
  });
});

describe('HTTP server on the multi-process engine', () => {
  it('serves the openai client', async () => {
    const pe = await createProcessEngine({ model: 'baton-tiny', backend: 'wasm', prefill: 1, decode: 1 });
    const server = await createServer({ engine: pe });
    try {
      const url = await server.listen({ port: 0 });
      const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 });
      const c = await client.completions.create({ model: 'baton-tiny', prompt: 'Hello there', max_tokens: 6, temperature: 0 });
      const direct = await engine.generate({ prompt: 'Hello there', maxTokens: 6 }).result;
      expect(c.choices[0].text).toBe(direct.text);
    } finally {
      await server.close();
    }
  });
});
