/**
 * Placement search (DistServe's): for a device count, a workload and SLO targets, simulate every
 * candidate configuration — disaggregated P:D splits, colocated and chunked instances — with its
 * prefill token budget, chunk size and decode batch limit, find each one's goodput (the highest
 * rate whose SLO attainment stays >= the goal, by doubling then bisection over simulated runs) and
 * rank by goodput per device.
 *
 * Two stages keep the search small: every split (and every colocated layout) is first measured
 * with the engine's default knobs; the knob grid is then searched for the best splits only.
 * Invariants: deterministic (same inputs, same ranking); ties keep the order candidates are
 * generated in (fewer devices, then the engine's defaults first).
 */
import { DEFAULT_ENGINE_OPTIONS, type SloTargets } from '@baton/engine';
import { PlanArgumentError } from './sim-errors.js';
import type { SimConfigInput, SimMode } from './sim-config.js';
import type { SimArrival } from './sim-request.js';
import { simulate } from './simulator.js';
import type { StepTimes } from './step-times.js';

/** One configuration the search can recommend. */
export interface PlanCandidate {
  mode: SimMode;
  prefill: number;
  decode: number;
  colocated: number;
  prefillChunkSize: number;
  tokenBudget: number;
  maxBatch: number;
}

/** A candidate with its predicted goodput. */
export interface PlanResult {
  candidate: PlanCandidate;
  devices: number;
  /** Requests/s at >= goal attainment (0 when even the lowest rate tried fails). */
  goodput: number;
  goodputPerDevice: number;
  /** Attainment, TTFT p90 and TPOT p90 at the goodput rate. */
  attainment: number;
  ttftP90: number | null;
  tpotP90: number | null;
}

/** Inputs of {@link searchPlacement}. */
export interface PlanOptions {
  times: StepTimes;
  /** The workload at a nominal rate of 1 request/s (rescaled per rate tried). */
  requests: readonly SimArrival[];
  slo: SloTargets;
  devices: number;
  /** Attainment goal. Default 0.9. */
  goal?: number;
  modes?: readonly SimMode[];
  chunkSizes?: readonly number[];
  tokenBudgets?: readonly number[];
  maxBatches?: readonly number[];
  /** Layouts kept for the knob stage. Default 2. */
  keepSplits?: number;
  kv?: { blockSize: number; numBlocks: number };
}

/**
 * The engine's default configuration for `devices` devices: its default mode with an even P:D
 * split and its default knobs; on one device (no room for P and D) one colocated instance.
 */
export function defaultCandidate(devices: number): PlanCandidate {
  const d = DEFAULT_ENGINE_OPTIONS;
  const prefill = Math.max(1, Math.floor(devices / 2));
  const mode: SimMode = devices < 2 ? 'colocated' : (d.mode as SimMode);
  return { mode, prefill, decode: Math.max(1, devices - prefill), colocated: devices, prefillChunkSize: d.prefillChunkSize, tokenBudget: d.tokenBudget, maxBatch: d.maxBatch };
}

/** Searches configurations; returns every evaluated one, best goodput per device first. */
export function searchPlacement(o: PlanOptions): PlanResult[] {
  if (!Number.isSafeInteger(o.devices) || o.devices < 1) throw new PlanArgumentError('--devices', `must be a positive integer, got ${o.devices}`);
  if (o.requests.length === 0) throw new PlanArgumentError('--workload', 'has no requests');
  const modes = o.modes ?? ['disaggregated', 'colocated', 'chunked'];
  const base = defaultCandidate(o.devices);
  const layouts: PlanCandidate[] = [];
  for (const mode of modes) {
    if (mode === 'disaggregated') {
      for (let p = 1; p < o.devices; p++) layouts.push({ ...base, mode, prefill: p, decode: o.devices - p });
    } else layouts.push({ ...base, mode, colocated: o.devices });
  }
  const seen = new Map<string, PlanResult>();
  const evaluate = (c: PlanCandidate, start: number): PlanResult => {
    const key = JSON.stringify(c);
    let r = seen.get(key);
    if (r === undefined) seen.set(key, (r = goodputOf(c, o, start)));
    return r;
  };
  const first = layouts.map((c) => evaluate(c, 1)).sort(byPerDevice);
  const keep = first.slice(0, o.keepSplits ?? 2);
  const chunks = o.chunkSizes ?? [128, 256, 512];
  const budgets = o.tokenBudgets ?? [256, 512, 1024];
  const batches = o.maxBatches ?? [8, 16, 32, 64];
  for (const k of keep) {
    for (const prefillChunkSize of chunks) {
      for (const tokenBudget of budgets) {
        if (prefillChunkSize > tokenBudget) continue;
        for (const maxBatch of batches) evaluate({ ...k.candidate, prefillChunkSize, tokenBudget, maxBatch }, k.goodput);
      }
    }
  }
  return [...seen.values()].sort(byPerDevice);
}

const MIN_RATE = 1 / 64;
const MAX_RATE = 1e6;
const BISECT_STEPS = 5;

/** Goodput of one candidate (requests/s; 0 below 1/64): bracketing from `start`, then bisection. */
export function goodputOf(c: PlanCandidate, o: PlanOptions, start = 1): PlanResult {
  const goal = o.goal ?? 0.9;
  const devices = c.mode === 'disaggregated' ? c.prefill + c.decode : c.colocated;
  const config: SimConfigInput = { ...c, kv: o.kv, schedulerCost: 'profile' };
  const at = (rate: number): { attainment: number; ttftP90: number | null; tpotP90: number | null } => {
    const run = simulate({ config, times: o.times, arrivals: o.requests.map((r) => ({ ...r, arrivalMs: r.arrivalMs / rate })) });
    const s = run.summary(o.slo);
    return { attainment: s.attainment ?? 0, ttftP90: s.ttftMs.p90, tpotP90: s.tpotMs.p90 };
  };
  // NOTE: bracket from `start` (a related candidate's goodput when known): doubling up while the
  // rate passes, halving down while it fails; then bisection inside the bracket.
  let lo = 0;
  let loFig = { attainment: 0, ttftP90: null as number | null, tpotP90: null as number | null };
  let hi = 0;
  let r = start > 0 ? start : 1;
  const first = at(r);
  if (first.attainment >= goal) {
    lo = r;
    loFig = first;
    for (r *= 2; r <= MAX_RATE; r *= 2) {
      const f = at(r);
      if (f.attainment < goal) break;
      lo = r;
      loFig = f;
    }
    hi = r;
  } else {
    hi = r;
    for (r /= 2; r >= MIN_RATE; r /= 2) {
      const f = at(r);
      if (f.attainment >= goal) {
        lo = r;
        loFig = f;
        break;
      }
      hi = r;
    }
  }
  for (let i = 0; i < BISECT_STEPS && lo > 0; i++) {
    const mid = (lo + hi) / 2;
    const f = at(mid);
    if (f.attainment >= goal) {
      lo = mid;
      loFig = f;
    } else hi = mid;
  }
  return { candidate: c, devices, goodput: lo, goodputPerDevice: lo / devices, ...loFig };
}

function byPerDevice(a: PlanResult, b: PlanResult): number {
  return b.goodputPerDevice - a.goodputPerDevice;
}

/** `2P+1D chunk 256 budget 512 batch 32`, or `2x chunked ...`. */
export function describeCandidate(c: PlanCandidate): string {
  const layout = c.mode === 'disaggregated' ? `${c.prefill}P+${c.decode}D` : `${c.colocated}x ${c.mode}`;
  return `${layout} chunk ${c.prefillChunkSize} budget ${c.tokenBudget} batch ${c.maxBatch}`;
}
