/**
 * `npm run bench:context`: context caching on multi-turn conversations. One seeded conversation
 * workload (sessions of 3–8 turns, Poisson session arrivals, think time between turns, each turn's
 * prompt = the whole conversation so far + a new message, replies as the model really gave them)
 * runs, in one process and one run, against four engines of the same shape (disaggregated,
 * 2 prefill actors + 1 decode actor, every actor in its own child process, so each prefill has a
 * pool of its own and routing decides what is reused):
 *   (a) no context caching, (b) caching + least-load routing, (c) session-id routing,
 *   (d) prompt-tree routing.
 * It prints TTFT mean and p99, TTFT-SLO attainment at the fixed session rate, the share of prompt
 * tokens served from cache, hits per tier, and the reductions against MemServe's reported ones.
 *
 * Usage: node apps/bench/dist/context-bench.js [--sessions N] [--rate SESSIONS_PER_S] [--seed N]
 *        [--think-ms MS] [--ttft-slo-ms MS] [--host-blocks N] [--kv-blocks N] [--reps N] [--model NAME]
 * NOTE: the machine's background load changes over minutes, so the configurations run in `reps`
 * interleaved rounds (the order rotates each round) and each one's turns are pooled over rounds.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEngine, type EngineOptionsInput, type EngineStats } from '@baton/engine';
import { BenchArgumentError } from './bench-errors.js';
import { generateConversations, nextPrompt, type ConversationSession } from './conversation-workload.js';
import { table } from './text-table.js';

interface Args { sessions: number; rate: number; seed: number; thinkMs: number; sloMs: number; hostBlocks: number; kvBlocks: number; reps: number; model: string }

const DEFAULTS: Args = { sessions: 12, rate: 0.5, seed: 7, thinkMs: 1000, sloMs: 1000, hostBlocks: 256, kvBlocks: 160, reps: 2, model: 'baton-tiny' };

/** One configuration's outcome. */
interface RunResult {
  name: string;
  ttfts: number[];
  failed: number;
  promptTokens: number;
  computedTokens: number;
  hot: number;
  host: number;
  disk: number;
}

function parseArgs(argv: readonly string[]): Args {
  const a: Args = { ...DEFAULTS };
  const keys: Record<string, keyof Args> = {
    '--sessions': 'sessions', '--rate': 'rate', '--seed': 'seed', '--think-ms': 'thinkMs', '--ttft-slo-ms': 'sloMs',
    '--host-blocks': 'hostBlocks', '--kv-blocks': 'kvBlocks', '--reps': 'reps', '--model': 'model',
  };
  for (let i = 0; i < argv.length; i += 2) {
    const key = keys[argv[i]];
    const value = argv[i + 1];
    if (key === undefined) throw new BenchArgumentError(argv[i], `unknown argument (known: ${Object.keys(keys).join(' ')})`);
    if (value === undefined) throw new BenchArgumentError(argv[i], 'needs a value');
    if (key === 'model') a.model = value;
    else {
      const n = Number(value);
      if (!(Number.isFinite(n) && n >= 0)) throw new BenchArgumentError(argv[i], `must be a non-negative number, got "${value}"`);
      a[key] = n;
    }
  }
  return a;
}

/** Runs every session closed-loop against `options`' engine; returns per-turn TTFTs and the cache accounting. */
async function run(name: string, options: EngineOptionsInput, args: Args): Promise<RunResult> {
  const workload = generateConversations({ sessions: args.sessions, seed: args.seed, sessionRate: args.rate, meanThinkMs: args.thinkMs });
  const engine = await createEngine({
    model: args.model, backend: 'wasm', mode: 'disaggregated', prefill: 2, decode: 1, placement: 'process',
    kv: { numBlocks: args.kvBlocks }, ...options,
  });
  const result: RunResult = { name, ttfts: [], failed: 0, promptTokens: 0, computedTokens: 0, hot: 0, host: 0, disk: 0 };
  try {
    // NOTE: warm every actor (model load, first-call compilation) on prompts no session shares.
    await Promise.all([0, 1, 2, 3].map((i) => engine.generate({ prompt: [1 + i, 2, 3], maxTokens: 2 }).result));
    const before = prefillCounters(await engine.stats());
    const start = performance.now();
    const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));
    const session = async (s: ConversationSession): Promise<void> => {
      await sleep(s.arrivalMs - (performance.now() - start));
      let history = workload.systemIds;
      for (const turn of s.turns) {
        const prompt = nextPrompt(history, turn);
        const r = await engine.generate({ prompt, maxTokens: turn.maxTokens, session: s.id }).result.catch(() => null);
        if (r === null || r.finishReason === 'error' || r.metrics.ttftMs === null) {
          result.failed += 1;
          return;
        }
        result.ttfts.push(r.metrics.ttftMs);
        result.promptTokens += prompt.length;
        history = [...prompt, ...r.ids];
        await sleep(turn.thinkMs);
      }
    };
    await Promise.all(workload.sessions.map(session));
    const after = prefillCounters(await engine.stats());
    result.computedTokens = after.computed - before.computed;
    result.hot = after.hot - before.hot;
    result.host = after.host - before.host;
    result.disk = after.disk - before.disk;
  } finally {
    await engine.close({ deadlineMs: 0 });
  }
  return result;
}

/** Prompt tokens the prefill actors computed, and cached blocks they reused per tier. */
function prefillCounters(stats: EngineStats): { computed: number; hot: number; host: number; disk: number } {
  const prefill = stats.actors.filter((a) => a.role === 'prefill');
  const sum = (f: (a: (typeof prefill)[number]) => number): number => prefill.reduce((n, a) => n + f(a), 0);
  return {
    computed: sum((a) => a.tokensProcessed),
    hot: sum((a) => a.tiers?.hot.hits ?? a.ownPool?.hits ?? 0),
    host: sum((a) => a.tiers?.host.hits ?? 0),
    disk: sum((a) => a.tiers?.disk?.hits ?? 0),
  };
}

function mean(xs: readonly number[]): number {
  return xs.length === 0 ? NaN : xs.reduce((a, b) => a + b, 0) / xs.length;
}

function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
}

const pct = (x: number): string => `${(100 * x).toFixed(0)}%`;
const ms = (x: number): string => x.toFixed(0);
const cut = (base: number, x: number): string => `${(100 * (1 - x / base)).toFixed(0)}%`;

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const diskDir = mkdtempSync(join(tmpdir(), 'baton-context-bench-'));
  const cache = { hostBlocks: args.hostBlocks, diskDir, diskMaxBytes: 256 << 20 };
  console.log(`bench:context  ${args.reps} rounds x ${args.sessions} sessions (3-8 turns), ${args.rate} sessions/s Poisson, think ${args.thinkMs} ms, seed ${args.seed}, ` +
    `${args.model}/wasm, disaggregated 2 prefill + 1 decode, placement process, kv ${args.kvBlocks} blocks/pool, host tier ${args.hostBlocks} blocks, disk tier on`);
  const configs: Array<[string, EngineOptionsInput]> = [
    ['(a) no caching', { cache: { enabled: false }, routing: 'least-load' }],
    ['(b) caching + least-load', { cache, routing: 'least-load' }],
    ['(c) caching + session', { cache, routing: 'session' }],
    ['(d) caching + prompt-tree', { cache, routing: 'prompt-tree' }],
  ];
  const results: RunResult[] = configs.map(([name]) => ({ name, ttfts: [], failed: 0, promptTokens: 0, computedTokens: 0, hot: 0, host: 0, disk: 0 }));
  try {
    for (let round = 0; round < Math.max(1, args.reps); round++) {
      for (let k = 0; k < configs.length; k++) {
        const i = (k + round) % configs.length;
        const r = await run(configs[i][0], configs[i][1], args);
        const into = results[i];
        into.ttfts.push(...r.ttfts);
        for (const key of ['failed', 'promptTokens', 'computedTokens', 'hot', 'host', 'disk'] as const) into[key] += r[key];
        console.log(`  round ${round + 1} ${r.name}: ${r.ttfts.length} turns, TTFT mean ${ms(mean(r.ttfts))} ms`);
      }
    }
  } finally {
    rmSync(diskDir, { recursive: true, force: true });
  }
  const [a, , c] = results;
  const rows = results.map((r) => {
    const reused = r.promptTokens === 0 ? 0 : 1 - r.computedTokens / r.promptTokens;
    return [
      r.name, String(r.ttfts.length), String(r.failed), ms(mean(r.ttfts)), ms(quantile(r.ttfts, 0.99)),
      pct(r.ttfts.filter((t) => t <= args.sloMs).length / Math.max(1, r.ttfts.length + r.failed)),
      pct(Math.max(0, reused)), `${r.hot}/${r.host}/${r.disk}`,
      cut(mean(a.ttfts), mean(r.ttfts)), cut(quantile(a.ttfts, 0.99), quantile(r.ttfts, 0.99)), cut(quantile(c.ttfts, 0.99), quantile(r.ttfts, 0.99)),
    ];
  });
  console.log(table(
    ['config', 'turns', 'failed', 'TTFT mean ms', 'TTFT p99 ms', `TTFT<=${args.sloMs}ms`, 'prompt reused', 'hits hot/host/disk (blocks)', 'mean vs (a)', 'p99 vs (a)', 'p99 vs (c)'],
    rows,
  ));
  const best = results.slice(1);
  const bestMean = Math.max(...best.map((r) => 1 - mean(r.ttfts) / mean(a.ttfts)));
  const bestP99 = Math.max(...best.map((r) => 1 - quantile(r.ttfts, 0.99) / quantile(a.ttfts, 0.99)));
  const d = results[3];
  const treeVsSession = 1 - quantile(d.ttfts, 0.99) / quantile(c.ttfts, 0.99);
  console.log(table(['reduction', 'MemServe', 'here'], [
    ['caching: mean TTFT (best of b-d vs a)', '58%', pct(bestMean)],
    ['caching: P99 TTFT (best of b-d vs a)', '45%', pct(bestP99)],
    ['prompt-tree vs session: P99 TTFT (d vs c)', '59%', pct(treeVsSession)],
  ]));
}

main().catch((e: unknown) => {
  console.error(`bench:context: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = e instanceof BenchArgumentError ? 2 : 1;
});
