/**
 * `npm run demo:cluster` (bench/cluster/demo-cluster.mjs): it starts nats-server, three emulated
 * hosts and the server; a request to the server completes; the live view lists the hosts; on
 * SIGINT it stops everything it started and exits 0 — none of the processes it reported remains.
 */
import { afterEach, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { eventually } from '../support/eventually.js';
import { pidAlive } from '../support/processes.js';
import { exited } from './child-processes.js';
import { natsServerBinary } from './nats-server.js';

const DEMO = fileURLToPath(new URL('../../bench/cluster/demo-cluster.mjs', import.meta.url));
let demo: ChildProcess | null = null;

afterEach(async () => {
  // NOTE: SIGINT is the demo's own cleanup (it stops every tree it started).
  if (demo !== null && demo.exitCode === null && demo.signalCode === null) {
    demo.kill('SIGINT');
    await exited(demo);
  }
  demo = null;
});

it('starts the broker, three hosts and the server, serves a request, and stops everything on SIGINT', async () => {
  const child = spawn(process.execPath, [DEMO], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NATS_SERVER: natsServerBinary() } });
  demo = child;
  let out = '';
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const ready = await eventually(() => /demo:cluster: ready · broker (\S+) · server (\S+) · pids ([\d ]+)\n/.exec(out), { what: 'the demo is ready', timeoutMs: 120_000, intervalMs: 100 });
  const server = ready?.[2] as string;
  const pids = (ready?.[3] as string).trim().split(' ').map(Number);
  expect(pids, 'nats-server, three hosts, the server').toHaveLength(5);
  const response = await fetch(`${server}/v1/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'baton-tiny', prompt: 'Hello', max_tokens: 8, temperature: 0 }),
  });
  expect(response.status).toBe(200);
  const body = (await response.json()) as { choices: Array<{ text: string }> };
  expect(body.choices[0]?.text.length).toBeGreaterThan(0);
  await eventually(() => ['host-a (127.0.0.11)', 'host-b (127.0.0.12)', 'host-c (127.0.0.13)'].every((h) => out.includes(h)) && /host-c-decode\s+decode/.test(out), {
    what: 'the live view shows each host with its worker', timeoutMs: 30_000,
  });
  child.kill('SIGINT');
  await exited(child);
  expect(child.exitCode).toBe(0);
  for (const pid of pids) expect(pidAlive(pid), `pid ${pid} stopped`).toBe(false);
}, 240_000);
