/**
 * `npm run bench:actors`: ask round-trip latency (p50/p99) and tell throughput between two worker
 * threads, through the actor runtime and through a bare MessagePort, measured in the same run,
 * alternating rounds; reports medians over rounds and actor/bare ratios against the goals
 * (ask p50 <= 1.5x bare, tell throughput >= 60% of bare).
 * Usage: node dist/bench/actors-bench.js [--rounds-per-trial N] [--messages N] [--trials N]
 */
import { parseArgs } from 'node:util';
import { MessageChannel, Worker } from 'node:worker_threads';
import { ActorSystem } from '../actor-system.js';
import type { BenchProtocol } from './bench-actor.js';
import { median, type LatencySummary } from './bench-stats.js';
import type { BareWorkerData } from './bare-port-worker.js';

interface TrialResult {
  readonly latency: LatencySummary;
  readonly tellsPerSecond: number;
}

const { values } = parseArgs({
  options: {
    'rounds-per-trial': { type: 'string', default: '20000' },
    messages: { type: 'string', default: '200000' },
    trials: { type: 'string', default: '5' },
  },
});
const rounds = Number(values['rounds-per-trial']);
const messages = Number(values.messages);
const trials = Number(values.trials);

async function bareTrial(): Promise<TrialResult> {
  const { port1, port2 } = new MessageChannel();
  const script = new URL('./bare-port-worker.js', import.meta.url);
  const start = (role: BareWorkerData['role'], port: typeof port1): Worker =>
    new Worker(script, { workerData: { role, port, rounds, messages } satisfies BareWorkerData, transferList: [port] });
  const target = start('target', port2);
  const driver = start('driver', port1);
  try {
    return await new Promise<TrialResult>((resolve, reject) => {
      driver.once('message', resolve);
      driver.once('error', reject);
    });
  } finally {
    await Promise.all([driver.terminate(), target.terminate()]);
  }
}

async function actorTrial(): Promise<TrialResult> {
  const system = new ActorSystem();
  try {
    const module = new URL('./bench-actor.js', import.meta.url);
    const target = await system.spawn<BenchProtocol>({ module, name: 'target', mailbox: { capacity: messages + 10 } });
    const driver = await system.spawn<BenchProtocol>({ module, name: 'driver' });
    const timeoutMs = 600_000;
    const latency = await driver.ask({ type: 'pingPong', target, rounds }, { timeoutMs });
    const tellsPerSecond = await driver.ask({ type: 'flood', target, messages }, { timeoutMs });
    return { latency, tellsPerSecond };
  } finally {
    await system.shutdown();
  }
}

function fmt(value: number, digits = 1): string {
  return value.toFixed(digits);
}

async function main(): Promise<void> {
  const bare: TrialResult[] = [];
  const actor: TrialResult[] = [];
  for (let trial = 0; trial < trials; trial++) {
    bare.push(await bareTrial());
    actor.push(await actorTrial());
  }
  const rows = [
    { metric: 'ask round trip p50 (µs)', bare: median(bare.map((r) => r.latency.p50Us)), actor: median(actor.map((r) => r.latency.p50Us)) },
    { metric: 'ask round trip p99 (µs)', bare: median(bare.map((r) => r.latency.p99Us)), actor: median(actor.map((r) => r.latency.p99Us)) },
    { metric: 'tell throughput (msg/s)', bare: median(bare.map((r) => r.tellsPerSecond)), actor: median(actor.map((r) => r.tellsPerSecond)) },
  ];
  console.log(`actors bench — ${new Date().toISOString()} — node ${process.version}`);
  console.log(`${trials} alternating trials; ${rounds} asks and ${messages} tells per trial; medians over trials\n`);
  console.log('| metric | bare MessagePort | actor runtime | actor / bare |');
  console.log('|---|---:|---:|---:|');
  for (const row of rows) {
    const digits = row.metric.includes('msg/s') ? 0 : 1;
    console.log(`| ${row.metric} | ${fmt(row.bare, digits)} | ${fmt(row.actor, digits)} | ${fmt(row.actor / row.bare, 2)}x |`);
  }
  const askRatio = (rows[0]?.actor ?? 0) / (rows[0]?.bare ?? 1);
  const tellRatio = (rows[2]?.actor ?? 0) / (rows[2]?.bare ?? 1);
  console.log(`\ngoal: ask p50 <= 1.5x bare → ${fmt(askRatio, 2)}x ${askRatio <= 1.5 ? 'MET' : 'NOT MET'}`);
  console.log(`goal: tell throughput >= 60% of bare → ${fmt(tellRatio * 100, 0)}% ${tellRatio >= 0.6 ? 'MET' : 'NOT MET'}`);
}

await main();
