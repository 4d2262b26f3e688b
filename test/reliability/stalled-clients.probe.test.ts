/**
 * Probe: stalled clients against a spawned `baton serve` limited to 1,024 file descriptors
 * (`ulimit -n 1024`). Many connections send complete headers and part of a body, then nothing.
 * The server must keep answering a new client while they hang, never come near its descriptor
 * limit, and close every stalled connection once the body timeout passes (each gets a 408).
 *
 * Quick by default (150 stalled connections, cap 64, 3 s body timeout). The full probe,
 * `npm run reliability:stalled-clients` (BATON_PROBE_FULL=1), opens 1,100 with the server's
 * default cap (512) and timeouts (30 s for the whole request) and prints its figures.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync } from 'node:fs';
import type net from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/eventually.js';
import { connect, hostLine } from '../server/raw-http.js';

const FULL = process.env.BATON_PROBE_FULL === '1';
const STALLED = FULL ? 1_100 : 150;
const FLAGS = FULL ? [] : ['--max-connections', '64', '--headers-timeout-ms', '1000', '--body-timeout-ms', '3000'];
const BODY_TIMEOUT_MS = FULL ? 30_000 : 3_000;
const FD_LIMIT = 1_024;
const CLI = fileURLToPath(new URL('../../apps/cli/dist/main.js', import.meta.url));

let child: ChildProcess | null = null;
const sockets: net.Socket[] = [];
afterAll(() => {
  for (const s of sockets) s.destroy();
  if (child !== null && child.exitCode === null) child.kill('SIGKILL');
});

/** Spawns `baton serve` under `ulimit -n 1024`; resolves with its URL and pid. */
async function serve(): Promise<{ url: string; pid: number }> {
  const args = [CLI, 'serve', '--port', '0', '--backend', 'wasm', '--model', 'baton-tiny', '--mode', 'single', ...FLAGS].map((a) => `'${a}'`).join(' ');
  child = spawn('bash', ['-c', `ulimit -n ${FD_LIMIT} && exec '${process.execPath}' ${args}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    child!.stdout!.on('data', (d: Buffer) => {
      output += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(output);
      if (m !== null) resolve(m[1]);
    });
    child!.once('exit', () => reject(new Error(`baton serve exited early:\n${output}`)));
  });
  return { url, pid: child.pid! };
}

function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** Headers complete, body promised 1,000 bytes, 9 sent. Resolves `closed` with what came back. */
async function stall(url: string): Promise<{ closed: Promise<string> }> {
  const socket = await connect(url);
  sockets.push(socket);
  let reply = '';
  socket.on('data', (d: Buffer) => (reply += d.toString()));
  socket.on('error', () => undefined);
  const closed = new Promise<string>((resolve) => socket.once('close', () => resolve(reply)));
  socket.write(`POST /v1/completions HTTP/1.1\r\n${hostLine(url)}Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"model":`);
  return { closed };
}

describe('stalled clients against a server with 1,024 descriptors', () => {
  it(`keeps serving while ${STALLED} request bodies hang, and closes them all after the body timeout`, { timeout: BODY_TIMEOUT_MS * 4 + 120_000 }, async () => {
    if (process.platform !== 'linux') throw new Error('this probe reads /proc/<pid>/fd: Linux only');
    const { url, pid } = await serve();
    const started = performance.now();
    const stalled = [];
    for (let i = 0; i < STALLED; i++) stalled.push(await stall(url));
    const fdsWhileStalled = openFds(pid);
    const res = await fetch(`${url}/v1/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json', connection: 'close' },
      body: JSON.stringify({ model: 'baton-tiny', prompt: 'still serving', max_tokens: 3 }),
    });
    expect(res.status).toBe(200);
    await res.text();
    expect(fdsWhileStalled).toBeLessThan(FD_LIMIT - 64);
    const replies = await Promise.all(stalled.map((s) => s.closed));
    const closedAfterS = (performance.now() - started) / 1000;
    const timedOut = replies.filter((r) => r.startsWith('HTTP/1.1 408')).length;
    // Every stalled connection was closed: evicted at the cap to make room (no reply), or given 408.
    expect(replies.every((r) => r === '' || r.startsWith('HTTP/1.1 408'))).toBe(true);
    expect(timedOut).toBeGreaterThan(0);
    await eventually(() => openFds(pid) < fdsWhileStalled, { what: 'descriptors given back' });
    console.log(
      `stalled-clients probe: ${STALLED} stalled bodies; server fds while stalled ${fdsWhileStalled} (limit ${FD_LIMIT}); ` +
        `new client 200; ${timedOut} got 408, ${STALLED - timedOut} evicted at the cap; all closed after ${closedAfterS.toFixed(1)} s`,
    );
  });
});
