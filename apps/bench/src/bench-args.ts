/**
 * Command-line arguments of `baton bench`: parsing and validation into {@link BenchArgs}.
 *
 * Invariants: every flag is known, every value is checked, and a bad one raises
 * BenchArgumentError naming the flag; the modes compared always get the same number of model
 * worker threads (every disaggregated split P + D = colocated); exactly one SLO form is given
 * (fixed `--slo-ttft`/`--slo-tpot`, or `--slo-scale`).
 */
import { existsSync, statSync } from 'node:fs';
import type { EngineBackend, EngineMode } from '@baton/engine';
import { BUILTIN_MODELS, DEFAULT_MODEL } from '@baton/model';
import { BenchArgumentError } from './bench-errors.js';
import type { ArrivalProcess, MixName } from './workload.js';

/** Modes the bench can compare. */
export type BenchMode = Extract<EngineMode, 'disaggregated' | 'colocated' | 'chunked'>;

/** Parsed `baton bench` arguments. */
export interface BenchArgs {
  /** A mix to generate, or null when replaying `trace`. */
  workload: BenchMix | null;
  trace: string | null;
  writeTrace: string | null;
  modes: BenchMode[];
  /** Fixed targets, or K x the uncontended latencies measured at the start of the run. */
  slo: { kind: 'fixed'; ttftMs: number; tpotMs: number } | { kind: 'scale'; k: number; ttftK: number };
  /** A built-in model name or a checkpoint directory. */
  model: string;
  /** Either a goodput search from `start`, or a fixed list of rates. */
  rates: { kind: 'search'; start: number } | { kind: 'list'; rates: number[] };
  quick: boolean;
  seed: number;
  /** Requests per rate. */
  requests: number;
  arrival: ArrivalProcess;
  json: string | null;
  out: string | null;
  /** Disaggregated P:D splits to try, each with P + D = `colocated` (one entry: no search). */
  splits: Array<{ prefill: number; decode: number }>;
  /** Model worker threads of every mode (colocated and chunked actors; P + D). */
  colocated: number;
  /** Engine prefillChunkSize for every mode (null: the engine default). */
  chunk: number | null;
  /** Chunk sizes the chunked baseline tries (the best is kept); one entry: no tuning. */
  chunks: number[];
  /** Rate of the split and chunk trials (null: the first rate of the comparison). */
  tuneRate: number | null;
  /** Cap on a run's arrival span, seconds (null: every request; --quick: 10). */
  runSeconds: number | null;
  /** Repetitions of the whole interleaved comparison. */
  reps: number;
  /** Also run disaggregated with SLO-aware early rejection on, to measure admission's precision. */
  admission: boolean;
  /** Measure and print the roofline before the comparison. */
  roofline: boolean;
  /** Engine prefillNice for disaggregated mode: a nice value, 'off' (null), or the engine default. */
  prefillNice: number | 'off' | 'default';
  /** TensorFlow.js backend of every mode's engine. */
  backend: EngineBackend;
  /** Backends of the prefill and decode sides (null: `backend`); see the engine's prefillBackend. */
  prefillBackend: EngineBackend | null;
  decodeBackend: EngineBackend | null;
  /** Where every mode's serving actors run (threads of this process, or child processes). */
  placement: 'thread' | 'process';
  help: boolean;
}

/** Usage text. */
export const BENCH_USAGE = `usage: baton bench --workload chat|summarize|generate | --trace FILE
  --slo-ttft MS --slo-tpot MS | --slo-scale K [--slo-scale-ttft K2]  [--model NAME|DIR] [--modes disaggregated,colocated,chunked]
  [--rate R | --rates a,b,c] [--quick] [--reps N] [--seed S] [--requests N] [--arrival poisson|gamma --cv X]
  [--threads N [--splits P:D,...] | --prefill N --decode M [--colocated K]] [--chunk TOKENS | --chunks a,b,c]
  [--tune-rate R] [--run-seconds S]
  [--backend B] [--prefill-backend B] [--decode-backend B] [--placement thread|process] [--processes] [--prefill-nice N|off] [--admission] [--no-roofline]
  [--json FILE] [--out DIR] [--write-trace FILE]
       baton bench --workload multiturn [--sessions N] [--rate SESSIONS_PER_S] [--seed N] [--think-ms MS] [--prefill N] [--decode N]
  [--kv-blocks N] [--host-blocks N] [--systems N] [--system-tokens N] [--reps N] [--model NAME] [--ttft-slo-ms MS]
  [--trace FILE [--trace-block TOKENS]] [--write-trace FILE]   (context caching on conversations, as npm run bench:context)`;

/** Mixes of the mode comparison (`multiturn` runs the context-caching comparison instead, see bench-command.ts). */
export type BenchMix = Exclude<MixName, 'multiturn'>;
const MIXES: readonly BenchMix[] = ['chat', 'summarize', 'generate'];
const MODES: readonly BenchMode[] = ['disaggregated', 'colocated', 'chunked'];
/** Default first rate of the goodput search per mix (requests/s), sized for baton-tiny on 2 cores. */
const START_RATE: Record<BenchMix | 'trace', number> = { chat: 4, summarize: 2, generate: 2, trace: 1 };
const FLAGS_WITH_VALUE = new Set([
  '--workload', '--trace', '--write-trace', '--modes', '--slo-ttft', '--slo-tpot', '--rate', '--rates', '--seed',
  '--requests', '--arrival', '--cv', '--json', '--out', '--prefill', '--decode', '--colocated', '--chunk',
  '--prefill-nice', '--backend', '--model', '--slo-scale', '--threads', '--chunks', '--tune-rate', '--reps',
  '--prefill-backend', '--decode-backend', '--placement', '--splits', '--run-seconds', '--slo-scale-ttft',
]);
const BACKENDS: readonly EngineBackend[] = ['auto', 'wasm', 'cpu', 'webgpu', 'tensorflow'];
const BOOLEAN_FLAGS = new Set(['--quick', '--help', '--admission', '--no-roofline', '--processes']);
/** Chunk sizes the chunked baseline tries by default. */
const DEFAULT_CHUNKS = [64, 128, 256];

/** Parses argv (without the command name). @throws {BenchArgumentError} */
export function parseBenchArgs(argv: readonly string[]): BenchArgs {
  const v = new Map<string, string>();
  const on = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].includes('=') ? argv[i].split(/=(.*)/s, 2) : [argv[i], undefined];
    if (BOOLEAN_FLAGS.has(flag)) on.add(flag);
    else if (FLAGS_WITH_VALUE.has(flag)) {
      const value = inline ?? argv[++i];
      if (value === undefined || (inline === undefined && value.startsWith('--'))) throw new BenchArgumentError(flag, 'needs a value');
      if (v.has(flag)) throw new BenchArgumentError(flag, 'given twice');
      v.set(flag, value);
    } else throw new BenchArgumentError(flag, `unknown argument (${BENCH_USAGE.split('\n')[0]} ...)`);
  }
  if (on.has('--help')) return { ...defaults(), help: true };
  const quick = on.has('--quick');
  const workload = v.has('--workload') ? oneOf(v.get('--workload')!, MIXES, '--workload') : null;
  const trace = v.get('--trace') ?? null;
  if ((workload === null) === (trace === null)) throw new BenchArgumentError('--workload', 'give exactly one of --workload or --trace');
  if (v.has('--rate') && v.has('--rates')) throw new BenchArgumentError('--rates', 'give --rate (search start) or --rates (fixed list), not both');
  const { splits, colocated } = layout(v);
  if (v.has('--chunk') && v.has('--chunks')) throw new BenchArgumentError('--chunks', 'give --chunk (every mode) or --chunks (chunked tries each), not both');
  const chunk = v.has('--chunk') ? posInt(v.get('--chunk')!, '--chunk') : null;
  const arrivalKind = oneOf(v.get('--arrival') ?? 'poisson', ['poisson', 'gamma'] as const, '--arrival');
  if (arrivalKind === 'poisson' && v.has('--cv')) throw new BenchArgumentError('--cv', 'only applies to --arrival gamma');
  return {
    workload,
    trace,
    writeTrace: v.get('--write-trace') ?? null,
    modes: modes(v.get('--modes')),
    slo: slo(v),
    // NOTE: chat requests get the trained default model (its replies end with end-of-text); the other
    // mixes keep the random baton-tiny, whose outputs always run to maxTokens.
    model: model(v.get('--model') ?? (workload === 'chat' ? DEFAULT_MODEL : 'baton-tiny')),
    rates: v.has('--rates')
      ? { kind: 'list', rates: list(v.get('--rates')!, '--rates').map((r) => posNum(r, '--rates')) }
      : { kind: 'search', start: v.has('--rate') ? posNum(v.get('--rate')!, '--rate') : START_RATE[workload ?? 'trace'] },
    quick,
    seed: int(v.get('--seed') ?? '1', '--seed'),
    requests: posInt(v.get('--requests') ?? (quick ? '64' : '128'), '--requests'),
    arrival: arrivalKind === 'poisson' ? { kind: 'poisson' } : { kind: 'gamma', cv: posNum(v.get('--cv') ?? '2', '--cv') },
    json: v.get('--json') ?? null,
    out: v.get('--out') ?? null,
    splits,
    colocated,
    chunk,
    chunks: chunk !== null ? [chunk] : v.has('--chunks') ? [...new Set(list(v.get('--chunks')!, '--chunks').map((c) => posInt(c, '--chunks')))] : [...DEFAULT_CHUNKS],
    tuneRate: v.has('--tune-rate') ? posNum(v.get('--tune-rate')!, '--tune-rate') : null,
    reps: posInt(v.get('--reps') ?? '3', '--reps'),
    runSeconds: v.has('--run-seconds') ? posNum(v.get('--run-seconds')!, '--run-seconds') : quick ? 10 : null,
    admission: on.has('--admission'),
    roofline: !on.has('--no-roofline'),
    prefillNice: prefillNice(v.get('--prefill-nice')),
    backend: oneOf(v.get('--backend') ?? 'auto', BACKENDS, '--backend'),
    prefillBackend: v.has('--prefill-backend') ? oneOf(v.get('--prefill-backend')!, BACKENDS, '--prefill-backend') : null,
    decodeBackend: v.has('--decode-backend') ? oneOf(v.get('--decode-backend')!, BACKENDS, '--decode-backend') : null,
    placement: oneOf(v.get('--placement') ?? (on.has('--processes') ? 'process' : 'thread'), ['thread', 'process'] as const, '--placement'),
    help: false,
  };
}

/**
 * Worker layout: `--threads N` tries every split P + D = N (P = 1 .. N-1), or the `--splits` listed;
 * `--prefill P --decode D` fixes one split (`--colocated`, if given, must equal P + D); neither:
 * --threads 2.
 */
function layout(v: Map<string, string>): { splits: BenchArgs['splits']; colocated: number } {
  const fixed = v.has('--prefill') || v.has('--decode');
  if (fixed && v.has('--threads')) throw new BenchArgumentError('--threads', 'give --threads (every split is tried) or --prefill/--decode (one split), not both');
  if (fixed) {
    const prefill = posInt(v.get('--prefill') ?? '1', '--prefill');
    const decode = posInt(v.get('--decode') ?? '1', '--decode');
    const colocated = posInt(v.get('--colocated') ?? String(prefill + decode), '--colocated');
    if (prefill + decode !== colocated) {
      throw new BenchArgumentError('--colocated', `must equal --prefill + --decode (${prefill + decode}) so every mode gets the same worker threads`);
    }
    return { splits: [{ prefill, decode }], colocated };
  }
  const threads = posInt(v.get('--threads') ?? v.get('--colocated') ?? '2', v.has('--threads') ? '--threads' : '--colocated');
  if (v.has('--threads') && v.has('--colocated') && v.get('--colocated') !== v.get('--threads')) throw new BenchArgumentError('--colocated', 'must equal --threads');
  if (threads < 2) throw new BenchArgumentError(v.has('--threads') ? '--threads' : '--colocated', 'must be at least 2 (one prefill and one decode thread)');
  if (v.has('--splits')) {
    const splits = list(v.get('--splits')!, '--splits').map((item) => {
      const m = /^(\d+):(\d+)$/.exec(item);
      if (m === null) throw new BenchArgumentError('--splits', `"${item}" is not P:D (e.g. 4:12)`);
      const [prefill, decode] = [Number(m[1]), Number(m[2])];
      if (prefill < 1 || decode < 1 || prefill + decode !== threads) throw new BenchArgumentError('--splits', `${item}: P and D must be >= 1 with P + D = ${threads} threads`);
      return { prefill, decode };
    });
    return { splits, colocated: threads };
  }
  return { splits: Array.from({ length: threads - 1 }, (_, i) => ({ prefill: i + 1, decode: threads - 1 - i })), colocated: threads };
}

function model(raw: string): string {
  if (BUILTIN_MODELS.includes(raw) || (existsSync(raw) && statSync(raw).isDirectory())) return raw;
  throw new BenchArgumentError('--model', `"${raw}" is neither a built-in model (${BUILTIN_MODELS.join(', ')}) nor a checkpoint directory`);
}

function slo(v: Map<string, string>): BenchArgs['slo'] {
  const fixed = v.has('--slo-ttft') || v.has('--slo-tpot');
  if (v.has('--slo-scale-ttft') && !v.has('--slo-scale')) throw new BenchArgumentError('--slo-scale-ttft', 'needs --slo-scale (it overrides the TTFT factor)');
  if (v.has('--slo-scale')) {
    if (fixed) throw new BenchArgumentError('--slo-scale', 'give --slo-scale K or --slo-ttft/--slo-tpot, not both');
    const k = posNum(v.get('--slo-scale')!, '--slo-scale');
    return { kind: 'scale', k, ttftK: v.has('--slo-scale-ttft') ? posNum(v.get('--slo-scale-ttft')!, '--slo-scale-ttft') : k };
  }
  if (!fixed) throw new BenchArgumentError('--slo-ttft', 'is required (milliseconds), or give --slo-scale K');
  return { kind: 'fixed', ttftMs: required(v, '--slo-ttft'), tpotMs: required(v, '--slo-tpot') };
}

function prefillNice(raw: string | undefined): BenchArgs['prefillNice'] {
  if (raw === undefined) return 'default';
  if (raw === 'off') return 'off';
  const n = int(raw, '--prefill-nice');
  if (n < 0 || n > 19) throw new BenchArgumentError('--prefill-nice', `must be an integer in [0, 19] or 'off', got ${raw}`);
  return n;
}

function defaults(): BenchArgs {
  return {
    workload: 'chat', trace: null, writeTrace: null, modes: [...MODES], slo: { kind: 'fixed', ttftMs: 1, tpotMs: 1 }, model: 'baton-tiny',
    rates: { kind: 'search', start: 1 }, quick: false, seed: 1, requests: 96, arrival: { kind: 'poisson' },
    json: null, out: null, splits: [{ prefill: 1, decode: 1 }], colocated: 2, chunk: null, chunks: [...DEFAULT_CHUNKS], tuneRate: null,
    runSeconds: null, reps: 3, admission: false, roofline: true, prefillNice: 'default', backend: 'auto', prefillBackend: null, decodeBackend: null, placement: 'thread', help: false,
  };
}

function modes(raw: string | undefined): BenchMode[] {
  if (raw === undefined) return [...MODES];
  const out = list(raw, '--modes').map((m) => oneOf(m, MODES, '--modes'));
  if (new Set(out).size !== out.length) throw new BenchArgumentError('--modes', 'lists a mode twice');
  return out;
}

function required(v: Map<string, string>, flag: string): number {
  const raw = v.get(flag);
  if (raw === undefined) throw new BenchArgumentError(flag, 'is required (milliseconds)');
  return posNum(raw, flag);
}

function list(raw: string, flag: string): string[] {
  const items = raw.split(',').map((s) => s.trim());
  if (items.some((s) => s.length === 0)) throw new BenchArgumentError(flag, `empty item in "${raw}"`);
  return items;
}

function posNum(raw: string, flag: string): number {
  const x = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(x) || x <= 0) throw new BenchArgumentError(flag, `must be a positive number, got "${raw}"`);
  return x;
}

function posInt(raw: string, flag: string): number {
  const x = int(raw, flag);
  if (x < 1) throw new BenchArgumentError(flag, `must be a positive integer, got "${raw}"`);
  return x;
}

function int(raw: string, flag: string): number {
  if (!/^-?\d+$/.test(raw)) throw new BenchArgumentError(flag, `must be an integer, got "${raw}"`);
  return Number(raw);
}

function oneOf<T extends string>(raw: string, allowed: readonly T[], flag: string): T {
  if (!(allowed as readonly string[]).includes(raw)) throw new BenchArgumentError(flag, `must be one of ${allowed.join(', ')}, got "${raw}"`);
  return raw as T;
}
