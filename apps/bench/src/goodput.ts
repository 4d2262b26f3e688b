/**
 * Goodput (DistServe): the highest request rate whose SLO attainment stays at or above a target
 * (90%), found by exponential bracketing then bisection; and the SLO-scale sweep: at a held rate,
 * shrink both targets by a common factor until attainment falls below the target.
 *
 * Invariants: a rate is measured at most once per search; goodput is the highest rate of the
 * "passing prefix" (every measured rate up to it passed), so one lucky point above a failing one
 * never counts; the sweep reuses a run's records (valid because the bench's engines admit
 * requests without looking at the SLO, so the targets do not change what happened).
 */
import type { SloTargets } from '@baton/engine';
import { attainment, type BenchRecord } from './runner.js';
import { asSpec, type SloSpec } from './slo-spec.js';

/** Attainment measured at one rate. */
export interface RatePoint {
  rate: number;
  attainment: number;
}

/** Options of {@link searchGoodput}. */
export interface GoodputSearchOptions {
  /** First rate to try (requests/s). */
  startRate: number;
  /** Measures attainment at a rate (a real run, or a synthetic function in tests). */
  measure: (rate: number) => Promise<number>;
  /** Attainment goal. Default 0.9. */
  target?: number;
  /** Bisection steps after bracketing. Default 2. */
  bisectSteps?: number;
  /** Bracketing never goes below / above these. Defaults startRate/16 and startRate*16. */
  minRate?: number;
  maxRate?: number;
}

/** Search outcome: goodput (null when even the lowest rate failed) and every point measured. */
export interface GoodputResult {
  goodput: number | null;
  points: RatePoint[];
}

/** Exponential bracketing from `startRate` (x2 up or /2 down), then bisection. */
export async function searchGoodput(opts: GoodputSearchOptions): Promise<GoodputResult> {
  const target = opts.target ?? 0.9;
  const minRate = opts.minRate ?? opts.startRate / 16;
  const maxRate = opts.maxRate ?? opts.startRate * 16;
  const points: RatePoint[] = [];
  const pass = async (rate: number): Promise<boolean> => {
    const attainment = await opts.measure(rate);
    points.push({ rate, attainment });
    return attainment >= target;
  };
  let lo: number | null = null;
  let hi: number | null = null;
  let r = opts.startRate;
  if (await pass(r)) {
    lo = r;
    while (hi === null && r * 2 <= maxRate) {
      r *= 2;
      if (await pass(r)) lo = r;
      else hi = r;
    }
  } else {
    hi = r;
    while (lo === null && r / 2 >= minRate) {
      r /= 2;
      if (await pass(r)) lo = r;
      else hi = r;
    }
  }
  for (let i = 0; i < (opts.bisectSteps ?? 2) && lo !== null && hi !== null; i++) {
    const mid = round3((lo + hi) / 2);
    if (await pass(mid)) lo = mid;
    else hi = mid;
  }
  return { goodput: goodputOf(points, target), points };
}

/** Goodput from measured points: the highest rate with every measured rate up to it passing. */
export function goodputOf(points: readonly RatePoint[], target = 0.9): number | null {
  let best: number | null = null;
  for (const p of [...points].sort((a, b) => a.rate - b.rate)) {
    if (p.attainment < target) break;
    best = p.rate;
  }
  return best;
}

/** One point of the SLO-scale sweep. */
export interface ScalePoint {
  scale: number;
  attainment: number;
}

/** Sweep outcome: the tightest scale that still met the target (null if none), and every point. */
export interface SloScaleResult {
  tightestScale: number | null;
  points: ScalePoint[];
}

/** Scales tried by default, loosest first (above 1 shows how far a failing mode is from its SLO). */
export const DEFAULT_SLO_SCALES: readonly number[] = [16, 12, 8, 6, 5, 4, 3, 2.5, 2, 1.75, 1.5, 1.25, 1, 0.9, 0.8, 0.7, 0.6, 0.5, 0.45, 0.4, 0.35, 0.3, 0.25, 0.2, 0.175, 0.15, 0.125, 0.1, 0.08, 0.06, 0.05];

/** Holds the run (its records) and shrinks both SLO targets by each scale, loosest first. */
export function sloScaleSweep(opts: {
  records: readonly BenchRecord[];
  slo: SloTargets | SloSpec;
  scales?: readonly number[];
  target?: number;
}): SloScaleResult {
  const target = opts.target ?? 0.9;
  const scales = [...(opts.scales ?? DEFAULT_SLO_SCALES)].sort((a, b) => b - a);
  const spec = asSpec(opts.slo);
  const points = scales.map((scale) => ({ scale, attainment: attainment(opts.records, spec.scaled(scale)) }));
  let tightestScale: number | null = null;
  for (const p of points) {
    if (p.attainment < target) break;
    tightestScale = p.scale;
  }
  return { tightestScale, points };
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
