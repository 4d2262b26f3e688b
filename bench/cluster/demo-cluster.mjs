// npm run demo:cluster — a NATS cluster on one machine: nats-server on a free loopback port, three
// emulated hosts and the server. Each host is a process tree of its own (a `baton worker` root in
// its own process group) whose sockets listen on, and are advertised at, a loopback address of
// its own (127.0.0.11, .12, .13: Linux routes all of 127/8 to the loopback interface, so no
// network namespace or root is needed); the server (`baton serve --nats`) is a fourth tree. The
// live view groups the registered workers by the host they advertise, with a few requests sent
// to the server every second. SIGINT / SIGTERM (Ctrl-C) stops every tree it started, then the
// broker, and exits once all have exited.
//   --model NAME   (default baton-tiny)   --port N  HTTP port (default: a free one)
//   --once         send one request, print it, stop everything (for tests and scripts)
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { connect } from '@nats-io/transport-node';

const BATON = fileURLToPath(new URL('../../apps/cli/bin/baton.js', import.meta.url));
const { values } = parseArgs({ options: { model: { type: 'string' }, port: { type: 'string' }, once: { type: 'boolean' } } });
const MODEL = values.model ?? 'baton-tiny';
const HOSTS = [
  { name: 'host-a', ip: '127.0.0.11', role: 'prefill', count: 1 },
  { name: 'host-b', ip: '127.0.0.12', role: 'decode', count: 1 },
  { name: 'host-c', ip: '127.0.0.13', role: 'decode', count: 1 },
];

const binary = [process.env.NATS_SERVER, 'nats-server', '/usr/sbin/nats-server'].find((b) => b && spawnSync(b, ['--version']).status === 0);
if (binary === undefined) {
  console.error('demo:cluster: nats-server not found: install it (`sudo apt-get install nats-server`) or set NATS_SERVER');
  process.exit(1);
}
const freePort = () => new Promise((resolve) => { const s = createServer(); s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); }); });
const natsPort = await freePort();
const httpPort = values.port === undefined ? await freePort() : Number(values.port);
const url = `nats://127.0.0.1:${natsPort}`;

/** Every process tree started here (detached: each leads its own process group). */
const trees = [];
const start = (label, command, args, ready) => {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  trees.push({ label, child });
  let out = '';
  return new Promise((resolve, reject) => {
    const on = (chunk) => { out += chunk; if (out.includes(ready)) resolve(child); };
    child.stdout.on('data', on);
    child.stderr.on('data', on);
    child.once('exit', (code, signal) => reject(new Error(`${label} exited (${code ?? signal}) before it was ready:\n${out}`)));
  });
};
const exited = (child) => child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', r));
let stopping = null;
const stopAll = () => (stopping ??= (async () => {
  // NOTE: the server first (it releases its actors on the workers), then the hosts, the broker last.
  for (const group of [trees.filter((t) => t.label === 'server'), trees.filter((t) => t.label.startsWith('host-')), trees.filter((t) => t.label === 'nats-server')]) {
    await Promise.all(group.map(async ({ child }) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      try { process.kill(-child.pid, 'SIGTERM'); } catch { /* gone */ }
      const kill = setTimeout(() => { try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ } }, 5_000);
      await exited(child);
      clearTimeout(kill);
      // NOTE: the group may outlive its leader for a moment (a --count child): end it too.
      try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
    }));
  }
})());
const shutdown = async (code) => {
  process.stdout.write('\ndemo:cluster: stopping every process it started…\n');
  await stopAll();
  process.stdout.write(`demo:cluster: stopped (${trees.map((t) => `${t.label} ${t.child.pid}`).join(', ')})\n`);
  process.exit(code);
};
process.once('SIGINT', () => void shutdown(0));
process.once('SIGTERM', () => void shutdown(0));

let nc = null;
try {
  await start('nats-server', binary, ['-a', '127.0.0.1', '-p', String(natsPort)], 'Server is ready');
  await Promise.all(HOSTS.map((h) => start(h.name, process.execPath, [
    BATON, 'worker', '--nats', url, '--role', h.role, '--count', String(h.count), '--model', MODEL, '--node-id', `${h.name}-${h.role}`,
    '--listen-host', h.ip, '--advertise-host', h.ip, '--heartbeat-ms', '250',
  ], 'registered')));
  await start('server', process.execPath, [BATON, 'serve', '--nats', url, '--model', MODEL, '--port', String(httpPort), '--listen-host', '127.0.0.1', '--advertise-host', '127.0.0.1'], 'listening on');
  process.stdout.write(`demo:cluster: ready · broker ${url} · server http://127.0.0.1:${httpPort} · pids ${trees.map((t) => t.child.pid).join(' ')}\n`);
  const complete = async (prompt) => {
    const response = await fetch(`http://127.0.0.1:${httpPort}/v1/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: MODEL, prompt, max_tokens: 24, temperature: 0 }),
    });
    const body = await response.json();
    return body.choices?.[0]?.text ?? JSON.stringify(body);
  };
  if (values.once) {
    process.stdout.write(`demo:cluster: completion: ${JSON.stringify(await complete('The cluster'))}\n`);
    await shutdown(0);
  }
  // The live view: every worker's latest heartbeat, grouped by the host it advertises.
  nc = await connect({ servers: url, name: 'demo-cluster-view' });
  const workers = new Map();
  nc.subscribe('baton.node.*.hb', { callback: (_e, msg) => {
    try { const h = JSON.parse(msg.string()); workers.set(h.node, { ...h, at: Date.now() }); } catch { /* not a heartbeat */ }
  } });
  let sent = 0;
  let done = 0;
  let last = '';
  setInterval(() => {
    sent += 1;
    void complete(`Request ${sent}:`).then((text) => { done += 1; last = text; }, () => undefined);
  }, 1_000).unref();
  setInterval(() => {
    const lines = [`demo:cluster — broker ${url} · server http://127.0.0.1:${httpPort} · Ctrl-C stops everything`, ''];
    for (const h of HOSTS) {
      lines.push(`${h.name} (${h.ip})`);
      const mine = [...workers.values()].filter((w) => w.meta?.host === h.ip).sort((a, b) => a.node.localeCompare(b.node));
      for (const w of mine) {
        const c = w.meta.capacity ?? {};
        const silent = Date.now() - w.at;
        lines.push(`  ${w.node.padEnd(22)} ${String(w.meta.role).padEnd(8)} pid ${String(w.pid).padEnd(8)} ${w.meta.backend}  actors ${c.actors}/${c.slots}  free KV blocks ${c.freeKvBlocks ?? '-'}  ${silent > 2_000 ? `silent ${silent} ms` : 'alive'}`);
      }
      if (mine.length === 0) lines.push('  (no worker registered)');
    }
    lines.push('', `requests: ${done} of ${sent} completed · last: ${JSON.stringify(last.slice(0, 60))}`);
    process.stdout.write(`\x1b[2J\x1b[H${lines.join('\n')}\n`);
  }, 1_000);
} catch (error) {
  process.stderr.write(`demo:cluster: ${error.message}\n`);
  await nc?.close();
  await shutdown(1);
}
