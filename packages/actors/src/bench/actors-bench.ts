/**
 * `npm run bench:actors`: ask round-trip latency (p50/p99) and tell throughput through the actor
 * runtime against a bare baseline measured in the same run, in alternating trials, for both
 * placements:
 * - thread: two worker threads, against a bare MessagePort between two other threads;
 * - process: two actor processes, against a bare unix-domain socket (v8.serialize, 4-byte length
 *   prefix, one write per message) between the same two processes.
 * Reports medians over trials and actor/bare ratios against the goals (ask p50 <= 1.5x bare,
 * tell throughput >= 60% of bare).
 * Usage: node dist/bench/actors-bench.js [--rounds-per-trial N] [--messages N] [--trials N]
 *        [--placement thread|process|both]
 */
import { parseArgs } from 'node:util';
import { MessageChannel, Worker } from 'node:worker_threads';
import type { ActorRef } from '../actor-ref.js';
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
    placement: { type: 'string', default: 'both' },
  },
});
const rounds = Number(values['rounds-per-trial']);
const messages = Number(values.messages);
const trials = Number(values.trials);
const placements = values.placement === 'both' ? ['thread', 'process'] : [values.placement];
if (!placements.every((p) => p === 'thread' || p === 'process')) throw new Error(`--placement: expected thread, process or both, got ${values.placement}`);
const timeoutMs = 600_000;
const module = new URL('./bench-actor.js', import.meta.url);

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

async function actorRun(driver: ActorRef<BenchProtocol>, target: ActorRef<BenchProtocol>): Promise<TrialResult> {
  const latency = await driver.ask({ type: 'pingPong', target, rounds }, { timeoutMs });
  const tellsPerSecond = await driver.ask({ type: 'flood', target, messages }, { timeoutMs });
  return { latency, tellsPerSecond };
}

async function actorTrial(): Promise<TrialResult> {
  const system = new ActorSystem();
  try {
    const target = await system.spawn<BenchProtocol>({ module, name: 'target', mailbox: { capacity: messages + 10 } });
    const driver = await system.spawn<BenchProtocol>({ module, name: 'driver' });
    return await actorRun(driver, target);
  } finally {
    await system.shutdown();
  }
}

/** One trial between two actor processes: the bare socket and the runtime, in the given order. */
async function processTrial(bareFirst: boolean): Promise<{ bare: TrialResult; actor: TrialResult }> {
  const system = new ActorSystem();
  try {
    const spawn = (name: string) => system.spawn<BenchProtocol>({ module, name, placement: 'process', mailbox: { capacity: messages + 10 } });
    const [target, driver] = [await spawn('target'), await spawn('driver')];
    const address = await target.ask({ type: 'bareServe' });
    const bareRun = (): Promise<TrialResult> => driver.ask({ type: 'bareDrive', address, rounds, messages }, { timeoutMs });
    if (bareFirst) {
      const bare = await bareRun();
      return { bare, actor: await actorRun(driver, target) };
    }
    const actor = await actorRun(driver, target);
    return { bare: await bareRun(), actor };
  } finally {
    await system.shutdown();
  }
}

function fmt(value: number, digits = 1): string {
  return value.toFixed(digits);
}

interface Row {
  readonly metric: string;
  readonly bare: number;
  readonly actor: number;
}

function rowsOf(bare: readonly TrialResult[], actor: readonly TrialResult[]): Row[] {
  return [
    { metric: 'ask round trip p50 (µs)', bare: median(bare.map((r) => r.latency.p50Us)), actor: median(actor.map((r) => r.latency.p50Us)) },
    { metric: 'ask round trip p99 (µs)', bare: median(bare.map((r) => r.latency.p99Us)), actor: median(actor.map((r) => r.latency.p99Us)) },
    { metric: 'tell throughput (msg/s)', bare: median(bare.map((r) => r.tellsPerSecond)), actor: median(actor.map((r) => r.tellsPerSecond)) },
  ];
}

/** Medians of the per-trial actor/bare ratios (each trial runs both back to back). */
function trialRatios(bare: readonly TrialResult[], actor: readonly TrialResult[]): { ask: number; tell: number } {
  return {
    ask: median(actor.map((r, i) => r.latency.p50Us / (bare[i] as TrialResult).latency.p50Us)),
    tell: median(actor.map((r, i) => r.tellsPerSecond / (bare[i] as TrialResult).tellsPerSecond)),
  };
}

function printSection(title: string, baseline: string, rows: readonly Row[], perTrial: { ask: number; tell: number }): void {
  console.log(`\n### ${title}\n`);
  console.log(`| metric | ${baseline} | actor runtime | actor / bare |`);
  console.log('|---|---:|---:|---:|');
  for (const row of rows) {
    const digits = row.metric.includes('msg/s') ? 0 : 1;
    console.log(`| ${row.metric} | ${fmt(row.bare, digits)} | ${fmt(row.actor, digits)} | ${fmt(row.actor / row.bare, 2)}x |`);
  }
  const askRatio = (rows[0]?.actor ?? 0) / (rows[0]?.bare ?? 1);
  const tellRatio = (rows[2]?.actor ?? 0) / (rows[2]?.bare ?? 1);
  console.log(`\nmedian of per-trial ratios: ask p50 ${fmt(perTrial.ask, 2)}x, tell throughput ${fmt(perTrial.tell, 2)}x`);
  console.log(`goal: ask p50 <= 1.5x bare → ${fmt(askRatio, 2)}x ${askRatio <= 1.5 ? 'MET' : 'NOT MET'}`);
  console.log(`goal: tell throughput >= 60% of bare → ${fmt(tellRatio * 100, 0)}% ${tellRatio >= 0.6 ? 'MET' : 'NOT MET'}`);
}

async function main(): Promise<void> {
  const threadBare: TrialResult[] = [];
  const threadActor: TrialResult[] = [];
  const processBare: TrialResult[] = [];
  const processActor: TrialResult[] = [];
  for (let trial = 0; trial < trials; trial++) {
    if (placements.includes('thread')) {
      threadBare.push(await bareTrial());
      threadActor.push(await actorTrial());
    }
    if (placements.includes('process')) {
      const result = await processTrial(trial % 2 === 0);
      processBare.push(result.bare);
      processActor.push(result.actor);
    }
  }
  console.log(`actors bench — ${new Date().toISOString()} — node ${process.version}`);
  console.log(`${trials} alternating trials; ${rounds} asks and ${messages} tells per trial; medians over trials`);
  if (placements.includes('thread')) printSection('placement thread: two worker threads', 'bare MessagePort', rowsOf(threadBare, threadActor), trialRatios(threadBare, threadActor));
  if (placements.includes('process')) {
    printSection('placement process: two actor processes', 'bare unix socket', rowsOf(processBare, processActor), trialRatios(processBare, processActor));
  }
}

await main();
