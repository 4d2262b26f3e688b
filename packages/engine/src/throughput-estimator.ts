/**
 * Exponentially weighted moving average and an online throughput estimator built on it. Actors
 * use them for the load figures they report (prefill tokens/s, decode step time); the scheduler
 * policy reads those figures.
 *
 * Invariant: values are finite; a throughput estimate is always > 0 (the prior stands in until the
 * first measurement).
 */
import { EngineError } from './errors.js';

/** EWMA: `value = alpha * x + (1 - alpha) * value`; the first sample initializes it. */
export class Ewma {
  readonly alpha: number;
  #value: number | null = null;
  #samples = 0;

  constructor(alpha = 0.2) {
    if (!(alpha > 0 && alpha <= 1)) throw new EngineError(`Ewma: alpha must be in (0, 1], got ${alpha}`);
    this.alpha = alpha;
  }

  /** Adds a finite sample. */
  update(x: number): void {
    if (!Number.isFinite(x)) throw new EngineError(`Ewma.update: sample must be finite, got ${x}`);
    this.#value = this.#value === null ? x : this.alpha * x + (1 - this.alpha) * this.#value;
    this.#samples++;
  }

  /** Current average; null before the first sample. */
  get value(): number | null {
    return this.#value;
  }

  get samples(): number {
    return this.#samples;
  }
}

/**
 * Online estimate of processing throughput (tokens per second) from (tokens, elapsed ms) pairs.
 * NOTE: it averages tokens and milliseconds separately and divides (a ratio of averages), so a
 * burst of tiny, overhead-dominated batches does not swing the estimate the way averaging
 * per-batch rates would.
 */
export class ThroughputEstimator {
  readonly #tokens: Ewma;
  readonly #ms: Ewma;
  readonly #prior: number;

  /** @param opts.priorTokensPerSecond used until the first observation; @param opts.alpha EWMA weight (default 0.2). */
  constructor(opts: { priorTokensPerSecond: number; alpha?: number }) {
    if (!(opts.priorTokensPerSecond > 0) || !Number.isFinite(opts.priorTokensPerSecond)) {
      throw new EngineError(`ThroughputEstimator: priorTokensPerSecond must be a positive number, got ${opts.priorTokensPerSecond}`);
    }
    this.#prior = opts.priorTokensPerSecond;
    this.#tokens = new Ewma(opts.alpha);
    this.#ms = new Ewma(opts.alpha);
  }

  /** Records that `tokens` tokens took `elapsedMs` ms. Zero-token or zero-time samples are ignored. */
  observe(tokens: number, elapsedMs: number): void {
    if (!(tokens >= 0) || !(elapsedMs >= 0) || !Number.isFinite(tokens) || !Number.isFinite(elapsedMs)) {
      throw new EngineError(`ThroughputEstimator.observe: tokens and elapsedMs must be finite and >= 0, got ${tokens}, ${elapsedMs}`);
    }
    if (tokens === 0 || elapsedMs === 0) return;
    this.#tokens.update(tokens);
    this.#ms.update(elapsedMs);
  }

  /** Estimated tokens per second (the prior until measured). */
  get tokensPerSecond(): number {
    const t = this.#tokens.value;
    const ms = this.#ms.value;
    return t === null || ms === null ? this.#prior : (t / ms) * 1000;
  }

  /** True once at least one measurement arrived. */
  get measured(): boolean {
    return this.#tokens.samples > 0;
  }

  /** Estimated milliseconds to process `tokens` tokens. */
  msFor(tokens: number): number {
    return (tokens / this.tokensPerSecond) * 1000;
  }
}
