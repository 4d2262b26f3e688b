/**
 * The HTTP server on the engine with its actors in child processes (`placement: 'process'`): each
 * prefill and decode actor in an OS process of its own whose command line names its role and
 * index, the same greedy text as the engine on threads, and no serving process left after close.
 */
import { readFileSync } from 'node:fs';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { createEngine } from '@baton/engine';
import { createServer } from '@baton/server';
import { pidAlive } from '../support/processes.js';

function commandLine(pid: number): string {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
}

describe('HTTP server on the engine with actors in child processes', () => {
  it('serves the openai client with the text of the engine on threads, then leaves no process behind', async () => {
    const server = await createServer({ engineOptions: { model: 'baton-tiny', backend: 'wasm', prefill: 1, decode: 2, placement: 'process' } });
    let pids: number[] = [];
    try {
      const url = await server.listen({ port: 0 });
      const stats = await server.engine.stats();
      pids = stats.actors.map((a) => a.pid);
      expect(new Set(pids).size).toBe(3);
      expect(pids).not.toContain(process.pid);
      for (const a of stats.actors) {
        const [role, index] = a.name.split('-');
        if (process.platform === 'linux') expect(commandLine(a.pid)).toContain(`--role ${role} --index ${index}`);
      }
      const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 });
      const prompts = ['Hello there', 'The quick brown fox jumps', 'abc', 'x'.repeat(100)];
      const got = await Promise.all(prompts.map((prompt) => client.completions.create({ model: 'baton-tiny', prompt, max_tokens: 12, temperature: 0 })));
      const threads = await createEngine({ model: 'baton-tiny', backend: 'wasm', prefill: 1, decode: 1 });
      try {
        const expected = await Promise.all(prompts.map((prompt) => threads.generate({ prompt, maxTokens: 12 }).result));
        expect(got.map((c) => c.choices[0].text)).toEqual(expected.map((r) => r.text));
      } finally {
        await threads.close({ deadlineMs: 0 });
      }
      const after = await server.engine.stats();
      for (const p of after.pools) expect(p.stats.used, `pool ${p.name}`).toBe(0);
    } finally {
      await server.close();
    }
    for (const pid of pids) expect(pidAlive(pid), `process ${pid} after close`).toBe(false);
  });
});
