/**
 * StepTimes: the cost model the simulator runs on — how long a prefill chunk, a decode step, a KV
 * handoff, a message hop and a scheduling decision take, and how instances on one machine slow each other. `profileStepTimes` interpolates a measured
 * {@link Profile}; `constantStepTimes` gives fixed costs (closed-form tests, what-if studies).
 *
 * The engine's path (a profile's `engine` section) is charged as measured: prefill calls scaled by
 * the engine's fitted factor, a decode step's per-sequence cost, its fixed cost in place of the
 * loop microbenchmark (both lines refitted from the probe's points, disturbed cases left out),
 * a prompt's fixed cost per prompt, and the path and handoff latencies beyond the hops, decision
 * and KV load that are charged anyway.
 *
 * Interpolation: prefill is piecewise linear in the chunk length (measured at prefix 0) plus an
 * attention term `c × tokens × prefix` fitted to the points measured after a cached prefix; decode
 * is bilinear in (batch, mean context) over the measured grid. Both extrapolate linearly from
 * their last two points and never go below zero.
 */
import { refitEngineOverhead } from './engine-overhead.js';
import type { Contention } from './host-cpu.js';
import type { Profile } from './profile.js';

/** Costs the simulator charges, all in ms except the scheduler (µs, as it is measured). */
export interface StepTimes {
  /** One prefill call of `tokens` new tokens after `prefix` cached ones. */
  prefillMs(tokens: number, prefix: number): number;
  /** One decode step of `batch` sequences whose contexts add up to `sumContext` tokens. */
  decodeMs(batch: number, sumContext: number): number;
  /** Loading a handed-off sequence of `tokens` tokens on the decode side. */
  transferMs(tokens: number): number;
  /** One message between threads. */
  hopMs: number;
  /** A decode (or colocated) step's cost besides the model call (event-loop turn, sampling, step and token messages). */
  stepOverheadMs: number;
  /** A prefill step's cost at its start, besides its prompts' model calls. */
  prefillStepOverheadMs: number;
  /** Each prompt's cost in a prefill step besides its model calls (first token, streaming, publication). */
  promptOverheadMs: number;
  /** Latency from a request's arrival to the scheduler beyond one hop (the engine's path). */
  pathMs: number;
  /** Latency of a KV handoff beyond one hop and the KV load (the engine's handoff path). */
  handoffMs: number;
  /** One scheduling decision over `instances` serving instances, µs. */
  schedulerUs(instances: number): number;
  /** How instances computing at once on one machine slow each other; null: they do not. */
  contention: Contention | null;
}

/** Options of {@link profileStepTimes}. */
export interface ProfileTimesOptions {
  /** Charge the profile's measured engine path (default true when the profile has one). */
  engine?: boolean;
}

/** Interpolated step times of a measured profile. */
export function profileStepTimes(p: Profile, opts: ProfileTimesOptions = {}): StepTimes {
  const base = p.prefill.filter((q) => q.prefix === 0).sort((a, b) => a.tokens - b.tokens);
  const xs = dedupe(base.map((q) => q.tokens));
  const ys = xs.map((x) => mean(base.filter((q) => q.tokens === x).map((q) => q.ms)));
  const prefixed = p.prefill.filter((q) => q.prefix > 0);
  // NOTE: least squares through the origin of the extra time a prefix adds against tokens × prefix.
  let num = 0;
  let den = 0;
  for (const q of prefixed) {
    const w = q.tokens * q.prefix;
    num += w * (q.ms - interp(xs, ys, q.tokens));
    den += w * w;
  }
  const attention = den > 0 ? Math.max(0, num / den) : 0;
  const batches = dedupe(p.decode.map((d) => d.batch).sort((a, b) => a - b));
  const contexts = dedupe(p.decode.map((d) => d.context).sort((a, b) => a - b));
  const grid = batches.map((b) => contexts.map((c) => mean(p.decode.filter((d) => d.batch === b && d.context === c).map((d) => d.ms))));
  const { transfer, scheduler } = p;
  // NOTE: both lines are refitted from the probe's points (profiles measured before the fits left
  // out disturbed cases charge a decode step at batch 1 up to 50%, or every prefill up to 50%, too long).
  const e = opts.engine === false || p.engine === undefined ? undefined : refitEngineOverhead(p.engine);
  const ps = e?.prefillScale ?? 1;
  const perSeq = e?.decodePerSeqMs ?? 0;
  const loop = p.stepOverheadMs ?? 0;
  return {
    prefillMs: (tokens, prefix) => ps * Math.max(0, interp(xs, ys, tokens) + attention * tokens * prefix),
    decodeMs: (batch, sumContext) => {
      if (batch <= 0) return 0;
      const ctx = sumContext / batch;
      const atContext = grid.map((row) => interp(contexts, row, ctx));
      return Math.max(0, interp(batches, atContext, batch)) + perSeq * batch;
    },
    transferMs: (tokens) => transfer.fixedMs + transfer.msPerToken * tokens,
    hopMs: p.hopMs,
    // NOTE: the engine's fitted fixed costs already hold the loop's turn and messages.
    stepOverheadMs: e === undefined ? loop : e.decodeFixedMs,
    prefillStepOverheadMs: e === undefined ? loop : 0,
    promptOverheadMs: e?.prefillFixedMs ?? 0,
    pathMs: e?.pathMs ?? 0,
    handoffMs: e?.handoffMs ?? 0,
    schedulerUs: (n) => scheduler.baseUs + scheduler.perInstanceUs * n,
    contention: p.coRun === undefined ? null : { ...p.coRun, cores: p.machine.cores },
  };
}

/** Fixed costs: prefill `a + b × tokens`, decode `c + d × batch`, and the rest constant. */
export function constantStepTimes(c: {
  prefillFixedMs?: number;
  prefillMsPerToken?: number;
  decodeFixedMs?: number;
  decodeMsPerSeq?: number;
  transferMs?: number;
  hopMs?: number;
  stepOverheadMs?: number;
  prefillStepOverheadMs?: number;
  promptOverheadMs?: number;
  pathMs?: number;
  handoffMs?: number;
  schedulerUs?: number;
  contention?: Contention;
}): StepTimes {
  const pf = c.prefillFixedMs ?? 0;
  const pt = c.prefillMsPerToken ?? 0;
  const df = c.decodeFixedMs ?? 0;
  const ds = c.decodeMsPerSeq ?? 0;
  return {
    prefillMs: (tokens) => pf + pt * tokens,
    decodeMs: (batch) => (batch <= 0 ? 0 : df + ds * batch),
    transferMs: () => c.transferMs ?? 0,
    hopMs: c.hopMs ?? 0,
    stepOverheadMs: c.stepOverheadMs ?? 0,
    prefillStepOverheadMs: c.prefillStepOverheadMs ?? c.stepOverheadMs ?? 0,
    promptOverheadMs: c.promptOverheadMs ?? 0,
    pathMs: c.pathMs ?? 0,
    handoffMs: c.handoffMs ?? 0,
    schedulerUs: () => c.schedulerUs ?? 0,
    contention: c.contention ?? null,
  };
}

/** Piecewise-linear interpolation over ascending `xs`, linear extrapolation at both ends. */
export function interp(xs: readonly number[], ys: readonly number[], x: number): number {
  const n = xs.length;
  if (n === 1) return ys[0];
  let i = 1;
  while (i < n - 1 && xs[i] < x) i++;
  const x0 = xs[i - 1];
  const x1 = xs[i];
  return ys[i - 1] + ((ys[i] - ys[i - 1]) * (x - x0)) / (x1 - x0);
}

function dedupe(sorted: number[]): number[] {
  return sorted.filter((x, i) => i === 0 || x !== sorted[i - 1]);
}

function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}
