/**
 * The context-caching comparison behind `npm run bench:context` and `baton bench --workload
 * multiturn`: context caching on multi-turn conversations. One seeded conversation
 * workload (sessions of 3–8 turns, Poisson session arrivals, think time between turns, each turn's
 * prompt = one of a few shared system prompts + the whole conversation so far + a new message,
 * replies as the model really gave them) runs, in one process and one run, against four engines
 * of the same shape (disaggregated, `--prefill` prefill actors + `--decode` decode actors, every
 * actor in its own child process, so each prefill has a pool of its own and routing decides what
 * is reused; decode actors send a finished turn's KV back to its prefill actor):
 *   (a) no context caching, (b) caching + least-load routing, (c) session-id routing,
 *   (d) prompt-tree routing (with Mooncake's transfer rule).
 * With `--trace FILE` it replays a Mooncake-format trace instead (open loop: each entry at its
 * timestamp; equal hash ids are equal token blocks of Baton's 16-token KV block, lengths scaled by
 * 16 / `--trace-block`; Mooncake traces carry no session ids, so an entry's session is named by
 * its first hash id that at most 8 entries share, see traceSessions). `--write-trace FILE` writes the conversation workload as such a trace and exits.
 * It prints TTFT mean and p99, TTFT-SLO attainment at the fixed session rate, the share of prompt
 * tokens served from cache, hits per tier, prefix transfers, and the reductions against MemServe's
 * reported ones. Usage: CONTEXT_USAGE (context-bench-args.ts). Invariant: never throws; returns the
 * exit code (0 done, 2 a bad argument, 1 any other failure).
 * NOTE: the machine's background load changes over minutes, so the configurations run in `reps`
 * interleaved rounds (the order rotates each round) and each one's turns are pooled over rounds.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEngine, type AuditTotals, type EngineOptionsInput, type EngineStats, type RoutingAuditStats } from '@baton/engine';
import { BenchArgumentError, TraceLineError } from './bench-errors.js';
import { parseContextArgs, type ContextBenchArgs as Args, type ContextConfig } from './context-bench-args.js';
import { conversationTrace, generateConversations, nextPrompt, type ConversationSession, type ConversationWorkload } from './conversation-workload.js';
import { BENCH_HEALTH } from './rig.js';
import { table } from './text-table.js';
import { readTrace, traceToWorkload, writeTrace, type TraceEntry } from './trace.js';

/** One configuration's outcome. */
interface RunResult {
  name: string;
  ttfts: number[];
  /** Per turn (same order as ttfts): time from arrival until its prefill started (queueing, prefix transfer, tiered match), ms. */
  waits: number[];
  failed: number;
  promptTokens: number;
  computedTokens: number;
  hot: number;
  host: number;
  disk: number;
  transfers: number;
  /** Per run: prompt tokens computed by the busiest prefill actor / the mean over prefill actors (1 = balanced). */
  imbalance: number[];
  /** Failed turns by error code (a failed turn ends its session). */
  failures: Record<string, number>;
  /** The scheduler's expected TTFT against the measured one, per run. */
  audits: RoutingAuditStats[];
}

/** Baton's KV block size (the engine default): one trace hash id is replayed as one such block. */
const BLOCK_TOKENS = 16;

/** What one run drives: the closed-loop conversations, or an open-loop trace replay. */
type Load = { kind: 'conversations'; workload: ConversationWorkload } | { kind: 'trace'; entries: TraceEntry[] };

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/** Runs the load against `options`' engine; returns per-turn TTFTs and the cache accounting. */
async function run(name: string, options: EngineOptionsInput, args: Args, load: Load, print: Print): Promise<RunResult> {
  const engine = await createEngine({
    model: args.model, backend: 'wasm', mode: 'disaggregated', prefill: args.prefill, decode: args.decode, placement: 'process',
    kv: { numBlocks: args.kvBlocks }, health: BENCH_HEALTH,
    // NOTE: no request is refused or timed out in the queue: every configuration serves every turn, so TTFTs compare like with like.
    queue: { maxRequests: 4096, maxPromptTokens: 1 << 24, maxWaitMs: null }, ...options,
  });
  const result: RunResult = emptyResult(name);
  try {
    // NOTE: warm every actor (model load, first-call compilation, a throughput measured on prompts of
    // a conversation turn's size) on prompts no session shares.
    const warm = (i: number): number[] => Array.from({ length: 192 }, (_, k) => 1 + ((i * 37 + k * 11) % 250));
    await Promise.all(Array.from({ length: 2 * args.prefill }, (_, i) => engine.generate({ prompt: warm(i), maxTokens: 2 }).result));
    const warmed = await engine.stats();
    const before = prefillCounters(warmed);
    const start = performance.now();
    /** One request; false when it failed. */
    const send = async (prompt: number[], maxTokens: number, session: string): Promise<number[] | null> => {
      const r = await engine.generate({ prompt, maxTokens, session }).result.catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))));
      if (r instanceof Error || r.finishReason === 'error' || r.metrics.ttftMs === null) {
        const code = r instanceof Error ? (r as Error & { code?: string }).code ?? r.name : r.error?.code ?? r.finishReason;
        if (result.failures[code] === undefined) print(`    first ${code} in ${name}: ${r instanceof Error ? r.message : r.error?.message ?? r.finishReason}`);
        result.failures[code] = (result.failures[code] ?? 0) + 1;
        result.failed += 1;
        return null;
      }
      result.ttfts.push(r.metrics.ttftMs);
      result.waits.push(r.metrics.queueMs ?? 0);
      result.promptTokens += prompt.length;
      return r.ids;
    };
    if (load.kind === 'conversations') await Promise.all(load.workload.sessions.map((s) => conversation(s, start, send)));
    else await replay(load.entries, args.traceBlock, start, send);
    const stats = await engine.stats();
    const after = prefillCounters(stats);
    result.audits.push(auditSince(warmed.scheduler.routingAudit, stats.scheduler.routingAudit));
    result.computedTokens = after.computed - before.computed;
    const per = after.perActor.map((n, i) => n - (before.perActor[i] ?? 0));
    result.imbalance.push(Math.max(...per) / Math.max(1, mean(per)));
    result.hot = after.hot - before.hot;
    result.host = after.host - before.host;
    result.disk = after.disk - before.disk;
    result.transfers = after.transfers - before.transfers;
  } finally {
    await engine.close({ deadlineMs: 0 });
  }
  return result;
}

/** Where the bench's lines go. */
export type Print = (line: string) => void;

type Send = (prompt: number[], maxTokens: number, session: string) => Promise<number[] | null>;

/** One session, closed loop: each turn's prompt is the conversation so far (replies as generated) + its message. */
async function conversation(s: ConversationSession, start: number, send: Send): Promise<void> {
  await sleep(s.arrivalMs - (performance.now() - start));
  let history = s.systemIds;
  for (const turn of s.turns) {
    const prompt = nextPrompt(history, turn);
    const ids = await send(prompt, turn.maxTokens, s.id);
    if (ids === null) return;
    history = [...prompt, ...ids];
    await sleep(turn.thinkMs);
  }
}

/** The trace, open loop: each entry at its timestamp. */
async function replay(entries: readonly TraceEntry[], traceBlockTokens: number, start: number, send: Send): Promise<void> {
  const w = traceToWorkload(entries, { blockTokens: BLOCK_TOKENS, traceBlockTokens });
  const sessions = traceSessions(entries);
  await Promise.all(w.requests.map(async (r) => {
    await sleep(r.arrivalMs - (performance.now() - start));
    await send(r.promptIds, r.maxTokens, sessions[r.index]);
  }));
}

/** A conversation has at most this many turns: a hash id in more entries is a prefix shared across conversations. */
const MAX_TURNS = 8;

/**
 * Session ids for a trace that has none: an entry's conversation is named by its first hash id
 * that at most MAX_TURNS entries share (hash ids before it are a shared system prompt); an entry
 * with no such id is a conversation of its own.
 */
function traceSessions(entries: readonly TraceEntry[]): string[] {
  const uses = new Map<number, number>();
  for (const e of entries) for (const h of e.hash_ids ?? []) uses.set(h, (uses.get(h) ?? 0) + 1);
  return entries.map((e, i) => {
    const own = (e.hash_ids ?? []).find((h) => (uses.get(h) ?? 0) <= MAX_TURNS);
    return own === undefined ? `entry-${i}` : `block-${own}`;
  });
}

/** Prompt tokens the prefill actors computed, cached blocks they reused per tier, and prefix transfers. */
function prefillCounters(stats: EngineStats): { computed: number; perActor: number[]; hot: number; host: number; disk: number; transfers: number } {
  const prefill = stats.actors.filter((a) => a.role === 'prefill');
  const sum = (f: (a: (typeof prefill)[number]) => number): number => prefill.reduce((n, a) => n + f(a), 0);
  return {
    computed: sum((a) => a.tokensProcessed),
    perActor: prefill.map((a) => a.tokensProcessed),
    hot: sum((a) => a.tiers?.hot.hits ?? a.ownPool?.hits ?? 0),
    host: sum((a) => a.tiers?.host.hits ?? 0),
    disk: sum((a) => a.tiers?.disk?.hits ?? 0),
    transfers: stats.scheduler.prefixTransfers.asked,
  };
}

function emptyResult(name: string): RunResult {
  return { name, ttfts: [], waits: [], failed: 0, promptTokens: 0, computedTokens: 0, hot: 0, host: 0, disk: 0, transfers: 0, imbalance: [], failures: {}, audits: [] };
}

/** The audit's sums of the requests measured between two snapshots (the warm-up left out). */
function auditSince(from: RoutingAuditStats, to: RoutingAuditStats): RoutingAuditStats {
  const minus = (a: AuditTotals, b: AuditTotals | undefined): AuditTotals => ({
    requests: a.requests - (b?.requests ?? 0), measuredMs: a.measuredMs - (b?.measuredMs ?? 0), expectedMs: a.expectedMs - (b?.expectedMs ?? 0),
    expectedQueueMs: a.expectedQueueMs - (b?.expectedQueueMs ?? 0), busyActors: a.busyActors - (b?.busyActors ?? 0),
  });
  return {
    perActor: to.perActor.map((t, i) => minus(t, from.perActor[i])),
    byTtft: to.byTtft.map((band, i) => ({ upToMs: band.upToMs, totals: minus(band.totals, from.byTtft[i]?.totals) })),
  };
}

/**
 * The routing audit of each run: per prefill actor (turns, mean measured / expected TTFT), and per
 * band of measured TTFT (turns, mean measured / expected TTFT, expected queue, busy prefill actors
 * when routed): whether the slow first tokens were foreseen.
 */
function auditLines(r: RunResult): string[] {
  const m = (t: AuditTotals, x: number): string => (t.requests === 0 ? '-' : ms(x / t.requests));
  return r.audits.flatMap((a, round) => [
    `  ${r.name} round ${round + 1}, per prefill actor (turns measured/expected ms): ` +
      a.perActor.map((t, i) => `p${i} ${t.requests} ${m(t, t.measuredMs)}/${m(t, t.expectedMs)}`).join(' · '),
    '    by measured TTFT (turns measured/expected ms, expected queue ms, busy actors): ' +
      a.byTtft.filter((b) => b.totals.requests > 0).map((b) => {
        const t = b.totals;
        return `${b.upToMs === null ? '>2000' : `<=${b.upToMs}`}: ${t.requests} ${m(t, t.measuredMs)}/${m(t, t.expectedMs)} q ${m(t, t.expectedQueueMs)} busy ${(t.busyActors / t.requests).toFixed(1)}`;
      }).join(' · '),
  ]);
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

/** Where the comparison writes: its tables and progress (`out`), and one line for an error (`err`, prefixed by `name`). */
export interface ContextBenchIo {
  name: string;
  out: Print;
  err: Print;
}

/** Runs the comparison with `argv` (bench:context's arguments, CONTEXT_USAGE); resolves to the exit code. */
export async function contextBench(argv: readonly string[], io: ContextBenchIo): Promise<number> {
  try {
    await compare(argv, io.out);
    return 0;
  } catch (e) {
    io.err(`${io.name}: ${e instanceof Error ? e.message : String(e)}`);
    return e instanceof BenchArgumentError ? 2 : 1;
  }
}

async function compare(argv: readonly string[], print: Print): Promise<void> {
  const args = parseContextArgs(argv);
  const workload = generateConversations({
    sessions: args.sessions, seed: args.seed, sessionRate: args.rate, meanThinkMs: args.thinkMs, systemPrompts: args.systems, systemTokens: args.systemTokens,
    heavy: { share: args.heavyShare, scale: args.heavyScale },
  });
  if (args.writeTrace !== null) {
    const entries = conversationTrace(workload, { blockTokens: BLOCK_TOKENS, traceBlockTokens: args.traceBlock });
    await writeTrace(args.writeTrace, entries);
    print(`wrote ${args.writeTrace}: ${entries.length} requests of ${args.sessions} sessions (Mooncake format, ${args.traceBlock} tokens per hash id)`);
    return;
  }
  const load: Load = args.trace === null ? { kind: 'conversations', workload } : { kind: 'trace', entries: await loadTrace(args.trace) };
  const diskDir = mkdtempSync(join(tmpdir(), 'baton-context-bench-'));
  const cache = { hostBlocks: args.hostBlocks, diskDir, diskMaxBytes: 256 << 20 };
  const what = load.kind === 'trace'
    ? `trace ${args.trace} (${load.entries.length} requests, ${args.traceBlock} tokens per hash id -> ${BLOCK_TOKENS})`
    : `${args.sessions} sessions (3-8 turns, ${args.systems} shared system prompts of ${args.systemTokens} tokens${args.heavyShare > 0 ? `, ${pct(args.heavyShare)} of them with ${args.heavyScale}x longer messages` : ''}), ` +
      `${args.rate} sessions/s Poisson, think ${args.thinkMs} ms, seed ${args.seed}`;
  print(`bench:context  ${args.reps} rounds x ${what}, ${args.model}/wasm, disaggregated ${args.prefill} prefill + ${args.decode} decode, ` +
    `placement process, kv ${args.kvBlocks} blocks/pool, host tier ${args.hostBlocks} blocks, disk tier on`);
  const all: Array<[ContextConfig, string, EngineOptionsInput]> = [
    ['a', '(a) no caching', { cache: { enabled: false }, routing: 'least-load' }],
    ['b', '(b) caching + least-load', { cache, routing: 'least-load' }],
    ['c', '(c) caching + session', { cache, routing: 'session' }],
    ['d', '(d) caching + prompt-tree', { cache, routing: 'prompt-tree' }],
  ];
  const chosen = all.filter(([letter]) => args.configs.includes(letter));
  const configs = chosen.map(([, name, options]): [string, EngineOptionsInput] => [name, options]);
  const results: RunResult[] = configs.map(([name]) => emptyResult(name));
  try {
    for (let round = 0; round < args.reps; round++) {
      for (let k = 0; k < configs.length; k++) {
        // NOTE: the order also rotates with the seed, so runs of several seeds do not always start with (a).
        const i = (k + round + args.seed) % configs.length;
        const r = await run(configs[i][0], configs[i][1], args, load, print);
        const into = results[i];
        into.ttfts.push(...r.ttfts);
        into.waits.push(...r.waits);
        into.imbalance.push(...r.imbalance);
        for (const key of ['failed', 'promptTokens', 'computedTokens', 'hot', 'host', 'disk', 'transfers'] as const) into[key] += r[key];
        for (const [code, n] of Object.entries(r.failures)) into.failures[code] = (into.failures[code] ?? 0) + n;
        into.audits.push(...r.audits);
        const failures = Object.entries(r.failures).map(([code, n]) => `${n} ${code}`).join(', ');
        print(`  round ${round + 1} ${r.name}: ${r.ttfts.length} turns, TTFT mean ${ms(mean(r.ttfts))} ms, p99 ${ms(quantile(r.ttfts, 0.99))} ms${failures === '' ? '' : `, failed: ${failures}`}`);
      }
    }
  } finally {
    rmSync(diskDir, { recursive: true, force: true });
  }
  const byLetter = (l: ContextConfig): RunResult | null => results[chosen.findIndex(([x]) => x === l)] ?? null;
  const [a, c, d] = [byLetter('a'), byLetter('c'), byLetter('d')];
  /** 1 - x / base, or n/a without the base configuration. */
  const versus = (base: RunResult | null, x: number, of: (r: RunResult) => number): string => (base === null ? 'n/a' : cut(of(base), x));
  const p99 = (r: RunResult): number => quantile(r.ttfts, 0.99);
  const avg = (r: RunResult): number => mean(r.ttfts);
  const rows = results.map((r) => {
    const reused = r.promptTokens === 0 ? 0 : 1 - r.computedTokens / r.promptTokens;
    return [
      r.name, String(r.ttfts.length), String(r.failed), ms(mean(r.ttfts)), ms(quantile(r.ttfts, 0.99)),
      pct(r.ttfts.filter((t) => t <= args.sloMs).length / Math.max(1, r.ttfts.length + r.failed)),
      pct(Math.max(0, reused)), `${r.hot}/${r.host}/${r.disk}`, String(r.transfers), mean(r.imbalance).toFixed(2),
      versus(a, avg(r), avg), versus(a, p99(r), p99), versus(c, p99(r), p99),
    ];
  });
  print(table(
    ['config', 'turns', 'failed', 'TTFT mean ms', 'TTFT p99 ms', `TTFT<=${args.sloMs}ms`, 'prompt reused', 'hits hot/host/disk (blocks)', 'transfers', 'busiest prefill / mean', 'mean vs (a)', 'p99 vs (a)', 'p99 vs (c)'],
    rows,
  ));
  print(table(['config', 'slowest 2% of turns', 'TTFT mean ms', 'of it waiting to start prefill ms', 'prefill + first token ms'], results.map((r) => {
    const slow = r.ttfts.map((t, i) => ({ t, w: r.waits[i] })).sort((x, y) => y.t - x.t).slice(0, Math.max(1, Math.ceil(0.02 * r.ttfts.length)));
    const t = mean(slow.map((x) => x.t));
    const w = mean(slow.map((x) => x.w));
    return [r.name, String(slow.length), ms(t), ms(w), ms(t - w)];
  })));
  print('routing audit (the scheduler\'s expected TTFT against the measured one):');
  for (const r of results) for (const line of auditLines(r)) print(line);
  const caching = results.filter((r) => r !== a);
  const best = (of: (r: RunResult) => number): string => (a === null || caching.length === 0 ? 'n/a' : pct(Math.max(...caching.map((r) => 1 - of(r) / of(a)))));
  print(table(['reduction', 'MemServe', 'here'], [
    ['caching: mean TTFT (best of b-d vs a)', '58%', best(avg)],
    ['caching: P99 TTFT (best of b-d vs a)', '45%', best(p99)],
    ['prompt-tree vs session: P99 TTFT (d vs c)', '59%', c === null || d === null ? 'n/a' : pct(1 - p99(d) / p99(c))],
  ]));
}

/** Reads a trace file; unreadable files and bad lines are argument errors naming the file (and line). */
async function loadTrace(file: string): Promise<TraceEntry[]> {
  try {
    const entries = await readTrace(file);
    if (entries.length === 0) throw new BenchArgumentError('--trace', `${file} holds no requests`);
    return entries;
  } catch (e) {
    if (e instanceof TraceLineError) throw new BenchArgumentError('--trace', `${file}: ${e.message}`);
    if (e instanceof BenchArgumentError) throw e;
    throw new BenchArgumentError('--trace', `cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}
