/**
 * Deterministic pseudo-random numbers: a seeded generator (mulberry32) and a normal sampler.
 * Invariant: the same seed always yields the same sequence, on every platform.
 */

/** A deterministic random source: `next()` returns a float in [0, 1). */
export interface Rng {
  next(): number;
}

/** Creates a deterministic generator from an integer seed (mulberry32). */
export function createRng(seed: number): Rng {
  let a = (Math.trunc(seed) ^ 0x9e3779b9) >>> 0;
  return {
    next(): number {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    },
  };
}

/** One standard normal sample (Box-Muller). */
export function normal(rng: Rng): number {
  const u = 1 - rng.next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.next());
}
