/**
 * Bench suite: one repetition of the comparison over started rigs — every rig measured at the
 * same rates, interleaved (each rate runs every rig in turn, so a burst of load from elsewhere on
 * the machine falls on all of them alike) — then goodput, the reference rate every rig was
 * measured at, and each rig's SLO-scale sweep there.
 *
 * Invariants: never two runs at once (they would share the cores); a goodput search runs the
 * rigs' searches in lockstep (round-robin, one run at a time), each following its own
 * bracketing; the suite never closes rigs (their owner does).
 */
import type { BenchMode } from './bench-args.js';
import { goodputOf, searchGoodput, sloScaleSweep, type RatePoint, type SloScaleResult } from './goodput.js';
import type { Rig } from './rig.js';
import type { RunResult } from './runner.js';
import type { SloSpec } from './slo-spec.js';

/** Rates of a suite: a goodput search, or a fixed list. */
export type SuiteRates =
  | { kind: 'search'; start: number; bisectSteps: number; /** Lowest rate tried = start / down. */ down: number }
  | { kind: 'list'; rates: readonly number[] };

/** What the suite runs. */
export interface SuiteOptions {
  rigs: readonly Rig[];
  slo: SloSpec;
  rates: SuiteRates;
  /**
   * Fixed rates: the rig that runs first at rate k is rig (k + rotation) mod n, so over rates and
   * repetitions (the comparison passes the repetition index) every rig takes every slot. Default 0.
   */
  rotation?: number;
}

/** One rig's results. */
export interface ModeResult {
  mode: BenchMode;
  /** The rig's label. */
  label: string;
  /** Worker layout, e.g. "1P+1D" or "2x colocated". */
  workers: string;
  goodput: number | null;
  points: RatePoint[];
  runs: RunResult[];
}

/** Every rig's SLO-scale sweep at one rate (null for a rig whose run there stopped early). */
export interface RateSweeps {
  rate: number;
  sweeps: Array<{ mode: BenchMode; sweep: SloScaleResult | null }>;
}

/** The whole suite. */
export interface SuiteResult {
  modes: ModeResult[];
  /**
   * Highest rate every rig was measured at, preferring rates where no run stopped early (CDFs and
   * SLO-scale sweeps are taken there).
   */
  referenceRate: number | null;
  /** Per rig (by mode); null when its run at the reference rate stopped early (or is missing). */
  sweeps: Array<{ mode: BenchMode; sweep: SloScaleResult | null }>;
  /** The sweeps at every rate every rig was measured at, ascending (fixed rates: every rate). */
  byRate: RateSweeps[];
}

/** Runs one repetition over `rigs` and derives goodput, reference rate and sweeps. */
export async function runSuite(opts: SuiteOptions): Promise<SuiteResult> {
  const modes = opts.rates.kind === 'search' ? await searchLockstep(opts, opts.rates) : await interleave(opts, opts.rates.rates, opts.rotation ?? 0);
  return summarizeSuite(modes, opts.slo);
}

/** Reference rate and SLO-scale sweeps of measured rigs. */
export function summarizeSuite(modes: ModeResult[], slo: SloSpec): SuiteResult {
  const common = modes
    .map((m) => new Set(m.runs.map((r) => r.rate)))
    .reduce((a, b) => new Set([...a].filter((x) => b.has(x))), new Set(modes[0]?.runs.map((r) => r.rate) ?? []));
  // NOTE: prefer a rate where no rig's run stopped early, so CDFs and sweeps see every request.
  const complete = [...common].filter((rate) => modes.every((m) => m.runs.some((r) => r.rate === rate && !r.stoppedEarly)));
  const pool = complete.length > 0 ? complete : [...common];
  const referenceRate = pool.length === 0 ? null : Math.max(...pool);
  const sweepsAt = (rate: number | null): RateSweeps['sweeps'] => modes.map((m) => {
    const run = m.runs.find((r) => r.rate === rate);
    // NOTE: a run that stopped early lacks the requests it never sent: no sweep can be scored on it.
    return { mode: m.mode, sweep: run === undefined || run.stoppedEarly ? null : sloScaleSweep({ records: run.records, slo }) };
  });
  const byRate = [...common].sort((a, b) => a - b).map((rate) => ({ rate, sweeps: sweepsAt(rate) }));
  return { modes, referenceRate, sweeps: byRate.find((b) => b.rate === referenceRate)?.sweeps ?? sweepsAt(referenceRate), byRate };
}

/**
 * Fixed rates: each rate runs every rig in turn, the first rig rotating.
 * NOTE: a fixed order would put one mode always first after a change of rate and always next to the
 * same neighbour; on a machine whose load drifts over minutes that biases the comparison.
 */
async function interleave(opts: SuiteOptions, rates: readonly number[], rotation: number): Promise<ModeResult[]> {
  const n = opts.rigs.length;
  const runs = opts.rigs.map(() => [] as RunResult[]);
  for (const [k, rate] of rates.entries()) {
    for (let j = 0; j < n; j++) {
      const i = (k + rotation + j) % n;
      runs[i].push(await opts.rigs[i].measure(rate, opts.slo));
    }
  }
  return opts.rigs.map((rig, i) => {
    const points = runs[i].map((r) => ({ rate: r.rate, attainment: r.attainment }));
    return { ...identity(rig), goodput: goodputOf(points), points, runs: runs[i] };
  });
}

/**
 * Goodput searches of every rig in lockstep: each rig follows its own bracketing and bisection,
 * but runs take turns in FIFO order (rig 1, rig 2, ..., rig 1, ...), one at a time.
 */
async function searchLockstep(opts: SuiteOptions, s: Extract<SuiteRates, { kind: 'search' }>): Promise<ModeResult[]> {
  let turn: Promise<unknown> = Promise.resolve();
  const serial = <T>(f: () => Promise<T>): Promise<T> => {
    const next = turn.then(f);
    turn = next.catch(() => undefined);
    return next;
  };
  return Promise.all(opts.rigs.map(async (rig) => {
    const runs: RunResult[] = [];
    const r = await searchGoodput({
      startRate: s.start, bisectSteps: s.bisectSteps, minRate: s.start / s.down, maxRate: s.start * 8,
      measure: (rate) => serial(async () => {
        const run = await rig.measure(rate, opts.slo);
        runs.push(run);
        return run.attainment;
      }),
    });
    return { ...identity(rig), goodput: r.goodput, points: r.points, runs };
  }));
}

function identity(rig: Rig): Pick<ModeResult, 'mode' | 'label' | 'workers'> {
  return { mode: rig.spec.mode, label: rig.spec.label, workers: rig.spec.workers };
}
