/**
 * Finding the sustainable rate of a workload on this machine: a quick closed-loop capacity
 * estimate, and the goodput search (the highest Poisson rate at which at least 90% of OFFERED
 * requests complete within the SLO — rejections count as misses), as docs/metrics.md defines goodput.
 */
import { OverloadedError, type Engine, type GenerateRequest, type SloTargets } from '@baton/engine';
import { loadFigures, offerLoad } from './offered-load.js';
import type { Rng } from './seeded-rng.js';

/** Requests per second that `concurrency` back-to-back clients complete in `durationMs` (refusals are retried). */
export async function closedLoopCapacity(engine: Engine, o: { concurrency: number; durationMs: number; request: (i: number) => GenerateRequest }): Promise<number> {
  const start = performance.now();
  let done = 0;
  const client = async (): Promise<void> => {
    while (performance.now() - start < o.durationMs) {
      try {
        await engine.generate(o.request(done)).result;
        done += 1;
      } catch (e) {
        // NOTE: with an SLO set, the cold engine's estimates reject some; back off briefly and go on.
        if (!(e instanceof OverloadedError)) throw e;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, client));
  return done / ((performance.now() - start) / 1000);
}

/** One probed rate of the search. */
export interface RateProbe {
  ratePerSec: number;
  offeredAttainment: number;
  acceptedAttainment: number;
}

/** Options of {@link searchSustainableRate}. */
export interface SustainableSearchOptions {
  engine: Engine;
  slo: SloTargets;
  /** An upper bound to start from (e.g. the closed-loop capacity). */
  upperPerSec: number;
  /** Time per probed rate. */
  probeMs: number;
  /** Bisection steps. */
  steps: number;
  seed: number;
  request: (i: number, rng: Rng) => GenerateRequest;
}

/** Bisects between 0 and `upperPerSec` for the highest rate with offered attainment >= 90%. */
export async function searchSustainableRate(o: SustainableSearchOptions): Promise<{ ratePerSec: number; probes: RateProbe[] }> {
  let lo = 0;
  let hi = o.upperPerSec;
  const probes: RateProbe[] = [];
  for (let step = 0; step < o.steps; step++) {
    const rate = step === 0 ? hi : (lo + hi) / 2;
    const run = await offerLoad({ engine: o.engine, ratePerSec: rate, durationMs: o.probeMs, seed: o.seed + step, request: o.request });
    const f = loadFigures(run, o.slo, o.probeMs);
    probes.push({ ratePerSec: rate, offeredAttainment: f.offeredAttainment, acceptedAttainment: f.acceptedAttainment });
    if (f.offeredAttainment >= 0.9) lo = rate;
    else hi = rate;
    if (step === 0 && lo === hi) break;
  }
  return { ratePerSec: lo, probes };
}
