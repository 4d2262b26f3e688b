/**
 * Graceful shutdown of a spawned `baton serve` process: on SIGTERM/SIGINT it stops accepting
 * (new requests are refused: 503 or connection refused), lets in-flight requests finish within the
 * deadline, aborts the rest (their stream ends with a 503 error event), stops every actor and
 * exits with status 0.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const CLI = fileURLToPath(new URL('../../apps/cli/dist/main.js', import.meta.url));
const children: ChildProcess[] = [];

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

/** Spawns `baton serve` on a free port; resolves with the process, its URL and its output so far. */
async function serve(args: string[]): Promise<{ child: ChildProcess; url: string; output: () => string; exited: Promise<number | null> }> {
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--backend', 'wasm', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const check = (): void => {
      const m = /listening on (http:\/\/\S+)/.exec(output);
      if (m !== null) resolve(m[1]);
    };
    child.stdout!.on('data', check);
    void exited.then(() => reject(new Error(`baton serve exited early:\n${output}`)));
  });
  return { child, url, output: () => output, exited };
}

function streamCompletion(url: string, maxTokens: number): Promise<Response> {
  return fetch(`${url}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'baton-tiny', prompt: 'shutdown', max_tokens: maxTokens, temperature: 0, stream: true }),
  });
}

/** A request after shutdown began: refused with 503, or the connection is refused. */
async function refused(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/v1/models`, { headers: { connection: 'close' } });
    return res.status === 503;
  } catch {
    return true;
  }
}

describe('baton serve shutdown', () => {
  it.each([['SIGTERM' as const], ['SIGINT' as const]])('on %s lets in-flight requests finish, then exits 0', async (signal) => {
    const s = await serve(['--shutdown-deadline-ms', '60000']);
    const res = await streamCompletion(s.url, 200);
    expect(res.status).toBe(200);
    s.child.kill(signal);
    // NOTE: signal delivery is asynchronous; probe only once the server says it is shutting down.
    while (!s.output().includes('shutting down')) await new Promise((r) => setTimeout(r, 20));
    expect(await refused(s.url)).toBe(true);
    const text = await res.text();
    expect(text).toContain('"finish_reason":"length"');
    expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true);
    expect(await s.exited).toBe(0);
    expect(s.output()).toContain('baton serve: stopped');
  });

  it('aborts what is still running at the deadline and exits 0', async () => {
    const s = await serve(['--shutdown-deadline-ms', '0']);
    const res = await streamCompletion(s.url, 900);
    expect(res.status).toBe(200);
    s.child.kill('SIGTERM');
    const text = await res.text();
    expect(text).toContain('"code":"shutting_down"');
    expect(text).not.toContain('"finish_reason":"length"');
    expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true);
    expect(await s.exited).toBe(0);
  });
});
