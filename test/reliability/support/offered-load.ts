/**
 * Open-loop offered load: requests arrive by a seeded Poisson process at a fixed rate for a fixed
 * time, whatever the engine does (the way clients behave under overload), and every outcome is
 * recorded compactly — completed (with its metrics), rejected (OverloadedError, with how long the
 * rejection took), or failed (anything else: a bug under overload). Each settled request also
 * records how many other requests completed while it waited: a count, so "a rejection does not
 * wait for capacity" can be asserted without comparing clocks on a machine of unknown load.
 *
 * Invariant: `run()` resolves only after every offered request has settled; a request that never
 * settles makes it time out, which the caller reports as lost.
 */
import { OverloadedError, meetsSlo, percentile, type Engine, type GenerateRequest, type RequestMetrics, type SloTargets } from '@baton/engine';
import { createRng, type Rng } from './seeded-rng.js';

/** Options of {@link offerLoad}. */
export interface OfferedLoadOptions {
  engine: Engine;
  ratePerSec: number;
  durationMs: number;
  seed: number;
  /** Builds request `i` (no signal: the load generator never aborts). */
  request: (i: number, rng: Rng) => GenerateRequest;
  /** Called about every 250 ms while requests arrive (memory sampling). */
  onTick?: () => void;
}

/** Everything one run observed. */
export interface OfferedLoadResult {
  offered: number;
  completed: RequestMetrics[];
  /** Milliseconds from generate() to the OverloadedError, per rejected request. */
  rejectionMs: number[];
  /** Per rejected request: how many other requests completed between its generate() and its OverloadedError. */
  rejectionWaits: number[];
  /** Per completed request: how many other requests completed between its generate() and its own end. */
  completionWaits: number[];
  /** Errors other than OverloadedError (none expected), as `code: message`. */
  failures: string[];
  /** Wall time from the first arrival to the last settlement, ms. */
  wallMs: number;
}

/** Offers Poisson arrivals at `ratePerSec` for `durationMs`, then waits for every request to settle. */
export async function offerLoad(o: OfferedLoadOptions): Promise<OfferedLoadResult> {
  const rng = createRng(o.seed);
  const result: OfferedLoadResult = { offered: 0, completed: [], rejectionMs: [], rejectionWaits: [], completionWaits: [], failures: [], wallMs: 0 };
  const pending: Array<Promise<void>> = [];
  const start = performance.now();
  let nextArrival = 0;
  let lastTick = 0;
  while (nextArrival < o.durationMs) {
    const now = performance.now() - start;
    while (nextArrival <= now && nextArrival < o.durationMs) {
      pending.push(submit(o, result, o.request(result.offered, rng)));
      result.offered += 1;
      nextArrival += -Math.log(1 - rng.next()) * (1000 / o.ratePerSec);
    }
    if (now - lastTick >= 250) {
      o.onTick?.();
      lastTick = now;
    }
    // NOTE: a macrotask wait (not a microtask) so the engine's inbox and timers run between arrivals.
    await new Promise((r) => setTimeout(r, Math.max(0, Math.min(5, nextArrival - now))));
  }
  await Promise.all(pending);
  result.wallMs = performance.now() - start;
  return result;
}

async function submit(o: OfferedLoadOptions, out: OfferedLoadResult, request: GenerateRequest): Promise<void> {
  const t0 = performance.now();
  const completedBefore = out.completed.length;
  try {
    const r = await o.engine.generate(request).result;
    if (r.finishReason === 'error') out.failures.push(`${r.error?.code ?? '?'}: ${r.error?.message ?? ''}`);
    else {
      out.completionWaits.push(out.completed.length - completedBefore);
      out.completed.push(r.metrics);
    }
  } catch (e) {
    if (e instanceof OverloadedError) {
      out.rejectionMs.push(performance.now() - t0);
      out.rejectionWaits.push(out.completed.length - completedBefore);
    } else out.failures.push(`${(e as { code?: string }).code ?? 'UNKNOWN'}: ${(e as Error).message}`);
  }
}

/** Headline figures of a run against an SLO. */
export interface LoadFigures {
  offeredPerSec: number;
  acceptedShare: number;
  /** Completed requests that met the SLO, per second of the arrival window. */
  goodputPerSec: number;
  /** Share of completed (accepted) requests that met the SLO. */
  acceptedAttainment: number;
  /** Share of offered requests completed within the SLO (the goodput-search criterion). */
  offeredAttainment: number;
  rejectionP50Ms: number | null;
  rejectionP99Ms: number | null;
  ttftP99Ms: number | null;
  tpotP99Ms: number | null;
  jctP50Ms: number | null;
  /** Median and p99 of {@link OfferedLoadResult.rejectionWaits}. */
  rejectionWaitP50: number | null;
  rejectionWaitP99: number | null;
  /** Median of {@link OfferedLoadResult.completionWaits}. */
  completionWaitP50: number | null;
}

/** Derives the figures of a run. */
export function loadFigures(r: OfferedLoadResult, slo: SloTargets, durationMs: number): LoadFigures {
  const met = r.completed.filter((m) => meetsSlo(m, slo)).length;
  const pick = (xs: number[], p: number): number | null => percentile([...xs].sort((a, b) => a - b), p);
  return {
    offeredPerSec: r.offered / (durationMs / 1000),
    acceptedShare: r.offered === 0 ? 0 : r.completed.length / r.offered,
    goodputPerSec: met / (durationMs / 1000),
    acceptedAttainment: r.completed.length === 0 ? 0 : met / r.completed.length,
    offeredAttainment: r.offered === 0 ? 0 : met / r.offered,
    rejectionP50Ms: pick(r.rejectionMs, 50),
    rejectionP99Ms: pick(r.rejectionMs, 99),
    ttftP99Ms: pick(present(r.completed.map((m) => m.ttftMs)), 99),
    tpotP99Ms: pick(present(r.completed.map((m) => m.tpotMs)), 99),
    jctP50Ms: pick(present(r.completed.map((m) => m.jctMs)), 50),
    rejectionWaitP50: pick(r.rejectionWaits, 50),
    rejectionWaitP99: pick(r.rejectionWaits, 99),
    completionWaitP50: pick(r.completionWaits, 50),
  };
}

function present(xs: ReadonlyArray<number | null>): number[] {
  return xs.filter((x): x is number => x !== null);
}
