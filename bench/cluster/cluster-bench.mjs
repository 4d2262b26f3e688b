// bench:cluster — on one machine with emulated hosts (each worker's sockets on a loopback address
// of its own: 127.0.0.2 prefill, 127.0.0.3 decode):
// 1. TTFT and TPOT of the engine on a NATS cluster (nats-server on loopback, one prefill and one
//    decode `baton worker` process, KV over TCP between them) against the single-process engine
//    (threads, shared pool) and the child-process engine, measured in the same run at a fixed low
//    rate: one request at a time, the engines interleaved request by request. Goal: TTFT p50
//    within 1.3x of the single-process engine.
// 2. The KV stream between hosts against a plain TCP copy of the same bytes (kv-stream-bench.mjs).
//    Goal: >= 80% of the plain copy's throughput.
// Prints medians and ratios to the baselines. Stops everything it started.
// Env knobs: BATON_BENCH_ROUNDS (part 1, default 12), BATON_BENCH_KV_ROUNDS (part 2, default 20),
// BATON_BENCH_KV_ONLY=1 (part 2 alone).
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createEngine } from '@baton/engine';
import { benchKvStream } from './kv-stream-bench.mjs';

const ROUNDS = Number(process.env.BATON_BENCH_ROUNDS ?? 12);
const PROMPT_TOKENS = 64;
const MAX_TOKENS = 32;
const MODEL = 'baton-tiny';
const BATON = fileURLToPath(new URL('../../apps/cli/bin/baton.js', import.meta.url));

const KV_ONLY = process.env.BATON_BENCH_KV_ONLY === '1';
const kvRounds = Number(process.env.BATON_BENCH_KV_ROUNDS ?? 20);
if (KV_ONLY) {
  const kv = await benchKvStream({ model: MODEL, tokens: 1024, rounds: kvRounds, host: '127.0.0.3' });
  console.log(kv.lines.join('\n'));
  process.exit(0);
}
const binary = [process.env.NATS_SERVER, 'nats-server', '/usr/sbin/nats-server'].find((b) => b && spawnSync(b, ['--version']).status === 0);
if (binary === undefined) throw new Error('nats-server not found: install it (`sudo apt-get install nats-server`) or set NATS_SERVER');
const port = await new Promise((resolve) => { const s = createServer(); s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); }); });
const url = `nats://127.0.0.1:${port}`;
const children = [];
const waitFor = (child, text) => new Promise((resolve, reject) => {
  let out = '';
  const on = (c) => { out += c; if (out.includes(text)) resolve(); };
  child.stdout?.on('data', on);
  child.stderr?.on('data', on);
  child.once('exit', (code) => reject(new Error(`exited ${code} before "${text}":\n${out}`)));
});
const broker = spawn(binary, ['-a', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
children.push(broker);
await waitFor(broker, 'Server is ready');
for (const [role, id, host] of [['prefill', 'bench-p0', '127.0.0.2'], ['decode', 'bench-d0', '127.0.0.3']]) {
  const w = spawn(process.execPath, [BATON, 'worker', '--nats', url, '--role', role, '--node-id', id, '--model', MODEL, '--backend', 'wasm', '--listen-host', host, '--advertise-host', host], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(w);
  await waitFor(w, 'registered');
}
const common = { model: MODEL, backend: 'wasm', mode: 'disaggregated', prefill: 1, decode: 1 };
const engines = {
  'single process (threads)': await createEngine({ ...common, placement: 'thread' }),
  'child processes': await createEngine({ ...common, placement: 'process' }),
  'cluster (NATS + TCP)': await createEngine({ ...common, cluster: { nats: url, prefill: 1, decode: 1 } }),
};
const samples = Object.fromEntries(Object.keys(engines).map((k) => [k, { ttft: [], tpot: [] }]));
let seed = 1;
const prompt = () => Array.from({ length: PROMPT_TOKENS }, () => 32 + ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % 95));
try {
  for (let round = -1; round < ROUNDS; round++) {
    for (const [name, engine] of Object.entries(engines)) {
      const start = performance.now();
      const times = [];
      for await (const ev of engine.generate({ prompt: prompt(), maxTokens: MAX_TOKENS })) if (ev.type === 'token') times.push(performance.now());
      if (round < 0) continue; // warm-up
      samples[name].ttft.push(times[0] - start);
      samples[name].tpot.push((times.at(-1) - times[0]) / (times.length - 1));
    }
  }
} finally {
  await Promise.all(Object.values(engines).map((e) => e.close({ deadlineMs: 0 })));
  for (const c of children.reverse()) c.kill('SIGTERM');
}
const kv = await benchKvStream({ model: MODEL, tokens: 1024, rounds: kvRounds, host: '127.0.0.3' });
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const base = samples['single process (threads)'];
console.log(`bench:cluster  ${ROUNDS} rounds · ${PROMPT_TOKENS}-token prompts · ${MAX_TOKENS} tokens · one request at a time, engines interleaved`);
console.log('| deployment | TTFT p50 ms | TTFT vs single | TPOT p50 ms | TPOT vs single |');
console.log('|---|---|---|---|---|');
for (const [name, s] of Object.entries(samples)) {
  console.log(`| ${name} | ${median(s.ttft).toFixed(1)} | ${(median(s.ttft) / median(base.ttft)).toFixed(2)}x | ${median(s.tpot).toFixed(2)} | ${(median(s.tpot) / median(base.tpot)).toFixed(2)}x |`);
}
console.log('');
console.log(kv.lines.join('\n'));
process.exit(0);
