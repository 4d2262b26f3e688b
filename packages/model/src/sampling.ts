/**
 * Sampling a token from one logits row: greedy (temperature 0, the default), temperature, top-k,
 * top-p. Deterministic given the Rng. Greedy ties go to the lowest id.
 */
import { ModelArgumentError } from './errors.js';
import type { Rng } from './rng.js';

/** Sampling parameters. */
export interface SamplingParams {
  /** 0 (default) = greedy. */
  temperature?: number;
  /** Keep the k most likely tokens (0 or absent = all). */
  topK?: number;
  /** Keep the smallest set whose probability reaches p (1 or absent = all). */
  topP?: number;
}

/** Validates sampling parameters, throwing ModelArgumentError naming the bad one. */
export function validateSampling(p: SamplingParams): Required<SamplingParams> {
  const temperature = p.temperature ?? 0;
  const topK = p.topK ?? 0;
  const topP = p.topP ?? 1;
  if (!Number.isFinite(temperature) || temperature < 0) throw new ModelArgumentError('temperature', `${temperature} must be a number >= 0`);
  if (!Number.isInteger(topK) || topK < 0) throw new ModelArgumentError('topK', `${topK} must be an integer >= 0`);
  if (!Number.isFinite(topP) || topP <= 0 || topP > 1) throw new ModelArgumentError('topP', `${topP} must be in (0, 1]`);
  return { temperature, topK, topP };
}

/** Index of the largest value (lowest index on ties). */
export function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

/** Picks one token id from a logits row. */
export function sample(row: ArrayLike<number>, params: SamplingParams, rng: Rng): number {
  const { temperature, topK, topP } = validateSampling(params);
  if (temperature === 0) return argmax(row);
  const ids = Array.from({ length: row.length }, (_, i) => i).sort((a, b) => row[b] - row[a] || a - b);
  const kept = topK > 0 ? ids.slice(0, topK) : ids;
  const max = row[kept[0]];
  const weights = kept.map((id) => Math.exp((row[id] - max) / temperature));
  const total = weights.reduce((a, b) => a + b, 0);
  let n = kept.length;
  if (topP < 1) {
    let cum = 0;
    for (n = 0; n < kept.length; ) { cum += weights[n++] / total; if (cum >= topP) break; }
  }
  const mass = weights.slice(0, n).reduce((a, b) => a + b, 0);
  let r = rng.next() * mass;
  for (let i = 0; i < n; i++) {
    r -= weights[i];
    if (r < 0) return kept[i];
  }
  return kept[n - 1];
}

/** A sampler bound to parameters and an Rng: call it with each logits row. */
export type Sampler = (row: ArrayLike<number>) => number;

/** Creates a sampler (validating params once). */
export function createSampler(params: SamplingParams, rng: Rng): Sampler {
  const valid = validateSampling(params);
  return (row) => sample(row, valid, rng);
}
