/**
 * Bench suite: for each mode, one engine (same seed, same worker-thread count, same options
 * otherwise), a warm-up, then either the goodput search or a fixed list of rates over the same
 * workload; afterwards the reference rate every mode was measured at and each mode's SLO-scale
 * sweep there.
 *
 * Invariants: never two runs at once (they would share the cores); the goodput search runs modes
 * one after another, fixed rates interleave the modes per rate; every engine is closed, also on failure; engines admit without SLO targets (`slo: null`),
 * so rejections never hide a mode's latency and the SLO-scale sweep may re-score records.
 */
import { createEngine, type Engine, type EngineOptionsInput, type SloTargets } from '@baton/engine';
import type { BenchMode } from './bench-args.js';
import { goodputOf, searchGoodput, sloScaleSweep, type RatePoint, type SloScaleResult } from './goodput.js';
import { runAtRate, type RunResult } from './runner.js';
import { atRate, type BenchRequest, type Workload } from './workload.js';

/** What the suite runs. */
export interface SuiteOptions {
  modes: readonly BenchMode[];
  workload: Workload;
  slo: SloTargets;
  rates: { kind: 'search'; start: number; bisectSteps: number; /** Lowest rate tried = start / down. */ down: number } | { kind: 'list'; rates: readonly number[] };
  /** Model worker threads: disaggregated uses prefill + decode, the others `colocated`. */
  threads: { prefill: number; decode: number; colocated: number };
  /** Engine options shared by every mode (mode and actor counts are set per mode). */
  engine: Omit<EngineOptionsInput, 'mode' | 'prefill' | 'decode' | 'colocated' | 'slo'>;
  drainMs: number;
  /** Stop a run once attainment below 90% is certain (quick mode). */
  stopEarly: boolean;
  /**
   * Cap on a run's arrival span (quick mode): a run sends the workload's first
   * max(minRequests, rate x maxRunSeconds) requests; null sends them all.
   */
  maxRunSeconds: number | null;
  /** Length of the paced, discarded warm-up run. */
  warmUpSeconds: number;
  /** Progress lines (stderr). */
  log: (line: string, transient?: boolean) => void;
}

/** One mode's results. */
export interface ModeResult {
  mode: BenchMode;
  /** Worker layout, e.g. "1P+1D" or "2x colocated". */
  workers: string;
  goodput: number | null;
  points: RatePoint[];
  runs: RunResult[];
}

/** The whole suite. */
export interface SuiteResult {
  modes: ModeResult[];
  /**
   * Highest rate every mode was measured at, preferring rates where no run stopped early (CDFs and
   * SLO-scale sweeps are taken there).
   */
  referenceRate: number | null;
  /** Per mode; null when its run at the reference rate stopped early (or is missing). */
  sweeps: Array<{ mode: BenchMode; sweep: SloScaleResult | null }>;
}

/** Runs every mode and derives goodput, reference rate and SLO-scale sweeps. */
export async function runSuite(opts: SuiteOptions): Promise<SuiteResult> {
  const modes = opts.rates.kind === 'search' ? await searchEach(opts, opts.rates) : await interleave(opts, opts.rates.rates);
  const common = modes
    .map((m) => new Set(m.runs.map((r) => r.rate)))
    .reduce((a, b) => new Set([...a].filter((x) => b.has(x))));
  // NOTE: prefer a rate where no mode's run stopped early, so CDFs and sweeps see every request.
  const complete = [...common].filter((rate) => modes.every((m) => m.runs.some((r) => r.rate === rate && !r.stoppedEarly)));
  const pool = complete.length > 0 ? complete : [...common];
  const referenceRate = pool.length === 0 ? null : Math.max(...pool);
  const sweeps = modes.map((m) => {
    const run = m.runs.find((r) => r.rate === referenceRate);
    // NOTE: a run that stopped early lacks the requests it never sent: no sweep can be scored on it.
    return { mode: m.mode, sweep: run === undefined || run.stoppedEarly ? null : sloScaleSweep({ records: run.records, slo: opts.slo }) };
  });
  return { modes, referenceRate, sweeps };
}

/** Goodput search: one mode after another, one engine alive at a time. */
async function searchEach(opts: SuiteOptions, rates: Extract<SuiteOptions['rates'], { kind: 'search' }>): Promise<ModeResult[]> {
  const out: ModeResult[] = [];
  for (const mode of opts.modes) {
    const rig = await startRig(mode, opts);
    try {
      const r = await searchGoodput({
        startRate: rates.start, measure: (rate) => rig.measure(rate), bisectSteps: rates.bisectSteps,
        minRate: rates.start / rates.down, maxRate: rates.start * 8,
      });
      out.push({ mode, workers: rig.workers, goodput: r.goodput, points: r.points, runs: rig.runs });
    } finally {
      await rig.engine.close({ deadlineMs: 1_000 });
    }
  }
  return out;
}

/**
 * Fixed rates: every engine is started first, then each rate runs every mode in turn, so a burst
 * of load from elsewhere on the machine falls on all modes alike rather than on whichever mode was
 * running. NOTE: idle engines cost memory, not CPU (their actors wait on their mailboxes).
 */
async function interleave(opts: SuiteOptions, rates: readonly number[]): Promise<ModeResult[]> {
  const rigs: Rig[] = [];
  try {
    for (const mode of opts.modes) rigs.push(await startRig(mode, opts));
    for (const rate of rates) for (const rig of rigs) await rig.measure(rate);
    return rigs.map((rig) => {
      const points = rig.runs.map((r) => ({ rate: r.rate, attainment: r.attainment }));
      return { mode: rig.mode, workers: rig.workers, goodput: goodputOf(points), points, runs: rig.runs };
    });
  } finally {
    await Promise.all(rigs.map((r) => r.engine.close({ deadlineMs: 1_000 })));
  }
}

/** A started, warmed-up engine of one mode and the runs measured on it. */
interface Rig {
  mode: BenchMode;
  workers: string;
  engine: Engine;
  runs: RunResult[];
  measure: (rate: number) => Promise<number>;
}

async function startRig(mode: BenchMode, opts: SuiteOptions): Promise<Rig> {
  const t = opts.threads;
  const workers = mode === 'disaggregated' ? `${t.prefill}P+${t.decode}D` : `${t.colocated}x ${mode}`;
  opts.log(`[${mode}] starting engine (${workers} worker threads)`);
  const engineStartMs = performance.timeOrigin + performance.now();
  const engine = await createEngine({ ...opts.engine, mode, prefill: t.prefill, decode: t.decode, colocated: t.colocated, slo: null });
  try {
    await warmUp(engine, opts, mode, engineStartMs);
  } catch (e) {
    await engine.close({ deadlineMs: 1_000 });
    throw e;
  }
  const runs: RunResult[] = [];
  const measure = async (rate: number): Promise<number> => {
    const run = await runAtRate({
      engine, mode, rate, slo: opts.slo, engineStartMs, drainMs: opts.drainMs, stopEarly: opts.stopEarly ? { target: 0.9 } : null,
      requests: freshContent(atRate(opts.workload, rate).slice(0, runLength(rate, opts)), runs.length + 1),
      onProgress: (p) => opts.log(`[${mode}] ${rate} req/s: sent ${p.sent}/${p.total}, done ${p.done}`, true),
    });
    runs.push(run);
    const s = run.summary;
    const bounds = run.stoppedEarly ? `..${(run.attainmentUpper * 100).toFixed(0)}% (stopped early)` : '';
    opts.log(
      `[${mode}] ${rate} req/s: attainment ${(run.attainment * 100).toFixed(0)}%${bounds}, TTFT p90 ${ms(s.ttftMs.p90)}, TPOT p90 ${ms(s.tpotMs.p90)} (${(run.wallMs / 1000).toFixed(1)} s)`,
    );
    return run.attainment;
  };
  return { mode, workers, engine, runs, measure };
}

/**
 * The same requests with every token shifted by `salt` (mod 256): lengths, timing and the prefix
 * sharing inside the run are unchanged, but nothing matches an earlier run's prompts.
 * NOTE: an engine's prefix cache keeps the prompts of its earlier runs; re-sending them would let
 * later rates skip most prefill work (measured: chat at 4 req/s, TTFT p90 180 ms on the first run,
 * 65 ms when the same prompts were sent again).
 */
function freshContent(requests: BenchRequest[], salt: number): BenchRequest[] {
  const shift = salt % 255 + 1;
  return requests.map((r) => ({ ...r, promptIds: r.promptIds.map((t) => (t + shift) % 256) }));
}

/** Minimum requests per run when `maxRunSeconds` caps a run. */
const MIN_REQUESTS = 24;

function runLength(rate: number, opts: SuiteOptions): number {
  const all = opts.workload.requests.length;
  return opts.maxRunSeconds === null ? all : Math.min(all, Math.max(MIN_REQUESTS, Math.round(rate * opts.maxRunSeconds)));
}

/**
 * Warm-up, discarded: the first 16 requests' shapes sent at once, then a paced run of the
 * workload's shapes at `rate` for `seconds`. Measured here: without the paced part, the first
 * measured run of a mode could meet kernels and estimators that had not settled.
 * NOTE: prompt content differs from the workload's, so no prefix-cache hits are left behind.
 */
async function warmUp(engine: Engine, opts: SuiteOptions, mode: BenchMode, engineStartMs: number): Promise<void> {
  const synthetic = (r: BenchRequest, k: number): BenchRequest => ({
    ...r,
    promptIds: Array.from({ length: r.promptIds.length }, (_, i) => (i * 31 + k * 17 + 7) % 251),
  });
  const burst = opts.workload.requests.slice(0, 16).map(synthetic);
  await Promise.all(burst.map((r) => engine.generate({ prompt: r.promptIds, maxTokens: r.maxTokens, temperature: 0 }).result.catch(() => null)));
  const rate = opts.rates.kind === 'search' ? opts.rates.start : Math.min(...opts.rates.rates);
  const paced = atRate(opts.workload, rate).filter((r) => r.arrivalMs <= opts.warmUpSeconds * 1000).map((r, k) => synthetic(r, k + 16));
  opts.log(`[${mode}] warming up (${paced.length} requests at ${rate} req/s, discarded)`);
  await runAtRate({ engine, mode, rate, requests: paced, slo: opts.slo, engineStartMs, drainMs: 5_000 });
}

function ms(x: number | null): string {
  return x === null ? '-' : `${x.toFixed(x < 10 ? 1 : 0)} ms`;
}
