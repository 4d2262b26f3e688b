/**
 * Command-line arguments of `npm run bench:context` (context-bench.ts): defaults, parsing, and the
 * usage line. Bad arguments are BenchArgumentError naming the argument (the bench exits 2).
 */
import { BenchArgumentError } from './bench-errors.js';

/** Parsed bench:context arguments. */
export interface ContextBenchArgs {
  sessions: number;
  /** Session arrivals per second (Poisson). */
  rate: number;
  seed: number;
  thinkMs: number;
  sloMs: number;
  hostBlocks: number;
  kvBlocks: number;
  reps: number;
  model: string;
  prefill: number;
  decode: number;
  /** Distinct system prompts shared across sessions, and their length in tokens. */
  systems: number;
  systemTokens: number;
  /** Replay this Mooncake-format trace (open loop) instead of the conversation workload. */
  trace: string | null;
  /** Tokens per hash id in the trace (Mooncake: 512); lengths scale by Baton's 16 / this. */
  traceBlock: number;
  /** Write the conversation workload as a Mooncake-format trace here and exit. */
  writeTrace: string | null;
  /** Share of sessions whose messages are `heavyScale` times as long (skewed session lengths). */
  heavyShare: number;
  heavyScale: number;
  /** The configurations to run, by letter (a: no caching, b: least-load, c: session, d: prompt tree). */
  configs: ContextConfig[];
}

/** A configuration of the comparison. */
export type ContextConfig = 'a' | 'b' | 'c' | 'd';
const CONFIGS: readonly ContextConfig[] = ['a', 'b', 'c', 'd'];

/** Defaults: 4 prefill instances behind one decode instance, 4 system prompts of 128 tokens. */
export const CONTEXT_DEFAULTS: ContextBenchArgs = {
  sessions: 24, rate: 1, seed: 7, thinkMs: 1000, sloMs: 1000, hostBlocks: 256, kvBlocks: 160, reps: 1, model: 'baton-tiny',
  prefill: 4, decode: 1, systems: 4, systemTokens: 128, trace: null, traceBlock: 512, writeTrace: null,
  heavyShare: 0, heavyScale: 4, configs: [...CONFIGS],
};

type NumberKey = Exclude<keyof ContextBenchArgs, 'model' | 'trace' | 'writeTrace' | 'configs'>;

const NUMBERS: Record<string, NumberKey> = {
  '--sessions': 'sessions', '--rate': 'rate', '--seed': 'seed', '--think-ms': 'thinkMs', '--ttft-slo-ms': 'sloMs',
  '--host-blocks': 'hostBlocks', '--kv-blocks': 'kvBlocks', '--reps': 'reps', '--prefill': 'prefill', '--decode': 'decode',
  '--systems': 'systems', '--system-tokens': 'systemTokens', '--trace-block': 'traceBlock',
  '--heavy-share': 'heavyShare', '--heavy-scale': 'heavyScale',
};
/** Values that need not be integers. */
const FRACTIONAL: ReadonlySet<NumberKey> = new Set(['rate', 'thinkMs', 'sloMs', 'heavyShare', 'heavyScale']);
/** Counts that must be at least 1. */
const POSITIVE: ReadonlySet<NumberKey> = new Set(['sessions', 'rate', 'reps', 'prefill', 'decode', 'systems', 'traceBlock']);

/** Usage line. */
export const CONTEXT_USAGE = `usage: node apps/bench/dist/context-bench.js [--sessions N] [--rate SESSIONS_PER_S] [--seed N] [--think-ms MS]
  [--ttft-slo-ms MS] [--host-blocks N] [--kv-blocks N] [--reps N] [--model NAME] [--prefill N] [--decode N]
  [--systems N] [--system-tokens N] [--heavy-share F [--heavy-scale K]] [--configs a,b,c,d]
  [--trace FILE [--trace-block TOKENS]] [--write-trace FILE]`;

/** Parses argv (without node and the script). @throws {BenchArgumentError} */
export function parseContextArgs(argv: readonly string[]): ContextBenchArgs {
  const a: ContextBenchArgs = { ...CONTEXT_DEFAULTS };
  const known = [...Object.keys(NUMBERS), '--model', '--trace', '--write-trace', '--configs'];
  for (let i = 0; i < argv.length; i += 2) {
    const flag = argv[i];
    const value = argv[i + 1];
    if (!known.includes(flag)) throw new BenchArgumentError(flag, `unknown argument (known: ${known.join(' ')})`);
    if (value === undefined) throw new BenchArgumentError(flag, 'needs a value');
    if (flag === '--model') a.model = value;
    else if (flag === '--trace') a.trace = value;
    else if (flag === '--write-trace') a.writeTrace = value;
    else if (flag === '--configs') a.configs = configs(value);
    else {
      const key = NUMBERS[flag];
      const n = Number(value);
      const real = FRACTIONAL.has(key);
      const ok = Number.isFinite(n) && (POSITIVE.has(key) ? n > 0 : n >= 0) && (real || Number.isInteger(n)) && (key !== 'heavyShare' || n <= 1) && (key !== 'heavyScale' || n >= 1);
      const range = key === 'heavyShare' ? ' in [0, 1]' : key === 'heavyScale' ? ' >= 1' : '';
      if (!ok) throw new BenchArgumentError(flag, `must be a ${POSITIVE.has(key) ? 'positive' : 'non-negative'} ${real ? 'number' : 'integer'}${range}, got "${value}"`);
      a[key] = n;
    }
  }
  return a;
}

/** `--configs a,c,d`: distinct letters of CONFIGS, in the comparison's order. */
function configs(value: string): ContextConfig[] {
  const letters = value.split(',').map((c) => c.trim());
  const bad = letters.find((c) => !(CONFIGS as readonly string[]).includes(c));
  if (bad !== undefined || letters.length === 0) throw new BenchArgumentError('--configs', `letters among ${CONFIGS.join(',')}, got "${value}"`);
  return CONFIGS.filter((c) => letters.includes(c));
}
