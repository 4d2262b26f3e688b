/**
 * Rig: one started, warmed-up engine of one bench configuration (mode, actor layout, backends,
 * chunk size, admission) and the runs measured on it. Every run sends fresh prompt content, so the
 * prefix cache cannot carry work from one run to the next.
 *
 * Invariants: `close` is idempotent; a rig whose warm-up fails closes its engine before rethrowing;
 * runs on one rig never overlap (the caller awaits each measure).
 */
import { createEngine, type Engine, type EngineOptionsInput, type SloTargets } from '@baton/engine';
import type { BenchMode } from './bench-args.js';
import { runAtRate, type RunResult } from './runner.js';
import type { SloSpec } from './slo-spec.js';
import { atRate, type BenchRequest, type Workload } from './workload.js';

/** What a rig is. */
export interface RigSpec {
  /** Unique name in a run, e.g. "disaggregated 1P+1D" or "chunked c=128". */
  label: string;
  mode: BenchMode;
  /** Worker layout, e.g. "1P+1D" or "2x colocated". */
  workers: string;
  /** Complete engine options of this rig (mode included). */
  engine: EngineOptionsInput;
}

/** How rigs run. */
export interface RigContext {
  workload: Workload;
  drainMs: number;
  /** Stop a run once attainment below 90% is certain. */
  stopEarly: boolean;
  /** Cap on a run's arrival span: a run sends max(24, rate x maxRunSeconds) requests; null sends all. */
  maxRunSeconds: number | null;
  /** Warm-up: a burst of this many requests, then a paced run of `warmUpSeconds` at `warmUpRate`. */
  warmUpBurst: number;
  warmUpSeconds: number;
  warmUpRate: number;
  log: (line: string, transient?: boolean) => void;
}

/** A started rig. */
export interface Rig {
  spec: RigSpec;
  engine: Engine;
  engineStartMs: number;
  runs: RunResult[];
  /** One run at `rate` against `slo` (records keep every request, so any SLO can re-score them). */
  measure: (rate: number, slo: SloTargets | SloSpec) => Promise<RunResult>;
  close: () => Promise<void>;
}

/**
 * Heartbeat limits of every bench engine.
 * NOTE: a serving actor answers heartbeats between model calls, not during one; a 512-token prefill
 * of baton-8x512 took 3-6 s on a loaded 2-core machine, so the engine default (silent 5 s = down)
 * declared busy prefill actors dead mid-run and failed their requests. The bench measures latency,
 * not failure detection: an actor counts as down only after a minute of silence.
 */
export const BENCH_HEALTH = Object.freeze({ unhealthyAfterMs: 60_000, restartAfterMs: 120_000 });

/**
 * Queue and handoff limits of every bench engine.
 * NOTE: the engine refuses a request whose prefill has not started after `queue.maxWaitMs` (10 s by
 * default) and fails a KV handoff slower than `handoffTimeoutMs` (5 s; the attempt is retried, its
 * prefill redone). On a loaded 2-core machine with baton-8x512 that refused 9-15 of 24 requests per
 * run of the one-prefill-thread disaggregated engine and few of the baselines': load shedding, which
 * the bench keeps out of every mode (a refused request is a miss). Requests wait as long as it takes.
 */
export const BENCH_QUEUE = Object.freeze({ maxWaitMs: null, handoffTimeoutMs: 60_000 });

/**
 * A rig's engine options as created: the spec's, with {@link BENCH_HEALTH}, no queue-wait limit and
 * {@link BENCH_QUEUE}'s handoff timeout, each unless the spec sets it itself.
 */
export function benchEngineOptions(options: EngineOptionsInput): EngineOptionsInput {
  return {
    ...options,
    health: { ...BENCH_HEALTH, ...options.health },
    queue: { maxWaitMs: BENCH_QUEUE.maxWaitMs, ...options.queue },
    handoffTimeoutMs: options.handoffTimeoutMs ?? BENCH_QUEUE.handoffTimeoutMs,
  };
}

/** Minimum requests per run when `maxRunSeconds` caps a run. */
const MIN_REQUESTS = 24;

/** Creates the engine, warms it up (discarded) and returns the rig. */
export async function startRig(spec: RigSpec, ctx: RigContext): Promise<Rig> {
  ctx.log(`[${spec.label}] starting engine (${spec.workers} worker threads)`);
  const engineStartMs = performance.timeOrigin + performance.now();
  const engine = await createEngine(benchEngineOptions(spec.engine));
  let closed: Promise<void> | null = null;
  const close = (): Promise<void> => (closed ??= engine.close({ deadlineMs: 1_000 }));
  try {
    await warmUp(engine, spec, ctx, engineStartMs);
  } catch (e) {
    await close();
    throw e;
  }
  const runs: RunResult[] = [];
  const measure = async (rate: number, slo: SloTargets | SloSpec): Promise<RunResult> => {
    const n = ctx.maxRunSeconds === null ? ctx.workload.requests.length : Math.min(ctx.workload.requests.length, Math.max(MIN_REQUESTS, Math.round(rate * ctx.maxRunSeconds)));
    const run = await runAtRate({
      engine, mode: spec.label, rate, slo, engineStartMs, drainMs: ctx.drainMs, stopEarly: ctx.stopEarly ? { target: 0.9 } : null,
      requests: freshContent(atRate(ctx.workload, rate).slice(0, n), runs.length + 1),
      onProgress: (p) => ctx.log(`[${spec.label}] ${rate} req/s: sent ${p.sent}/${p.total}, done ${p.done}`, true),
    });
    runs.push(run);
    const s = run.summary;
    const bounds = run.stoppedEarly ? `..${(run.attainmentUpper * 100).toFixed(0)}% (stopped early)` : '';
    ctx.log(`[${spec.label}] ${rate} req/s: attainment ${(run.attainment * 100).toFixed(0)}%${bounds}, TTFT p90 ${ms(s.ttftMs.p90)}, TPOT p90 ${ms(s.tpotMs.p90)} (${(run.wallMs / 1000).toFixed(1)} s)`);
    return run;
  };
  return { spec, engine, engineStartMs, runs, measure, close };
}

/**
 * The same requests with every token shifted by `salt` (mod 256): lengths, timing and the prefix
 * sharing inside the run are unchanged, but nothing matches an earlier run's prompts.
 * NOTE: an engine's prefix cache keeps the prompts of its earlier runs; re-sending them would let
 * later rates skip most prefill work (measured: chat at 4 req/s, TTFT p90 180 ms on the first run,
 * 65 ms when the same prompts were sent again).
 */
export function freshContent(requests: readonly BenchRequest[], salt: number): BenchRequest[] {
  const shift = salt % 255 + 1;
  return requests.map((r) => ({ ...r, promptIds: r.promptIds.map((t) => (t + shift) % 256) }));
}

/**
 * Warm-up, discarded: the workload's first `warmUpBurst` shapes sent at once, then a paced run
 * of its shapes for `warmUpSeconds`. Measured here: without the paced part, the first measured
 * run of a mode could meet kernels and estimators that had not settled.
 * NOTE: prompt content differs from the workload's, so no prefix-cache hits are left behind.
 */
async function warmUp(engine: Engine, spec: RigSpec, ctx: RigContext, engineStartMs: number): Promise<void> {
  const synthetic = (r: BenchRequest, k: number): BenchRequest => ({
    ...r,
    promptIds: Array.from({ length: r.promptIds.length }, (_, i) => (i * 31 + k * 17 + 7) % 251),
  });
  const burst = ctx.workload.requests.slice(0, ctx.warmUpBurst).map(synthetic);
  await Promise.all(burst.map((r) => engine.generate({ prompt: r.promptIds, maxTokens: r.maxTokens, temperature: 0 }).result.catch(() => null)));
  const paced = atRate(ctx.workload, ctx.warmUpRate).filter((r) => r.arrivalMs <= ctx.warmUpSeconds * 1000).map((r, k) => synthetic(r, k + ctx.warmUpBurst));
  ctx.log(`[${spec.label}] warming up (${burst.length} at once, then ${paced.length} at ${ctx.warmUpRate} req/s, discarded)`);
  await runAtRate({ engine, mode: spec.label, rate: ctx.warmUpRate, requests: paced, slo: { ttftMs: 1e9, tpotMs: 1e9 }, engineStartMs, drainMs: 5_000 });
}

function ms(x: number | null): string {
  return x === null ? '-' : `${x.toFixed(x < 10 ? 1 : 0)} ms`;
}
