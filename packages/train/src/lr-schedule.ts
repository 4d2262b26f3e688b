/**
 * The learning-rate schedule: linear warm-up from 0 to `peak` over `warmup` steps, then cosine
 * decay to `min` at step `total`, and `min` after it. A pure function of the step, so a resumed
 * run continues the same schedule.
 */

/** Parameters of {@link learningRate}. */
export interface LrSchedule {
  peak: number;
  min: number;
  warmup: number;
  total: number;
}

/** The learning rate of optimiser step `step` (0-based). */
export function learningRate(s: LrSchedule, step: number): number {
  if (step < s.warmup) return (s.peak * (step + 1)) / s.warmup;
  if (step >= s.total) return s.min;
  const progress = (step - s.warmup) / Math.max(1, s.total - s.warmup);
  return s.min + 0.5 * (s.peak - s.min) * (1 + Math.cos(Math.PI * progress));
}
