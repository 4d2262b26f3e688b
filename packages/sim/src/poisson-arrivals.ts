/**
 * A streaming arrival source for long simulated spans: Poisson arrivals at a rate over a duration,
 * request shapes (prompt ids, output length) taken in turn from a base workload, so an hour of
 * traffic at thousands of requests per second never sits in memory (prompt arrays are shared; each
 * arrival's KV blocks are salted, so it never hits another's prefix cache).
 */
import { createRng } from '@baton/model';
import type { ArrivalSource, SimArrival } from './sim-request.js';
import { SimOptionsError } from './sim-errors.js';

/** Poisson arrivals at `rate` req/s for `durationMs`, cycling `shapes`. Deterministic per seed. */
export function poissonArrivals(opts: {
  rate: number;
  durationMs: number;
  shapes: ReadonlyArray<{ promptIds: readonly number[]; maxTokens: number }>;
  seed: number;
}): ArrivalSource {
  if (!(opts.rate > 0 && Number.isFinite(opts.rate))) throw new SimOptionsError('rate', `must be a positive number, got ${opts.rate}`);
  if (opts.shapes.length === 0) throw new SimOptionsError('shapes', 'needs at least one request shape');
  const rng = createRng(opts.seed);
  const meanGapMs = 1000 / opts.rate;
  let t = 0;
  let index = 0;
  return {
    next(): SimArrival | null {
      if (index > 0) t += -Math.log(1 - rng.next()) * meanGapMs;
      if (t > opts.durationMs) return null;
      const s = opts.shapes[index % opts.shapes.length];
      // NOTE: salted so each arrival is new content (as the bench's fresh prompts are), not a repeat.
      return { index, arrivalMs: t, promptIds: s.promptIds, maxTokens: s.maxTokens, salt: ++index };
    },
  };
}
