/**
 * TtftCalibrator: corrects the scheduler's TTFT estimate with what actually happened. The estimate
 * (queued tokens / measured throughput + this prompt's prefill) misses message hops, batching and
 * interference from other threads on the same cores. Two corrections are learned online from
 * measured first-token times:
 *  - a scale on the queue part (under load the real queueing delay is a multiple of the model's),
 *  - a fixed overhead (what an idle engine adds on top of the prefill itself).
 * Both follow the upper tail (they rise fast and fall slowly: admitting right up to a mean estimate
 * would let about half of the boundary requests miss the SLO), and both decay back to neutral
 * when no measurement arrives (a rejecting scheduler measures nothing, and must not stay closed).
 */

/** The parts of an estimate the calibrator corrects. */
export interface TtftEstimate {
  queueMs: number;
  prefillMs: number;
}

/** Options of a TtftCalibrator. */
export interface TtftCalibratorOptions {
  now: () => number;
  /** Half-life of the decay back to neutral without measurements (default 5 s). */
  halfLifeMs?: number;
}

const ALPHA_UP = 0.3;
const ALPHA_DOWN = 0.02;
/** Below this estimated queue time a sample calibrates the overhead, not the queue scale. */
const MIN_QUEUE_MS = 10;
const SCALE_RANGE: readonly [number, number] = [0.5, 20];
const MAX_OVERHEAD_MS = 10_000;

/** Online TTFT estimate correction. */
export class TtftCalibrator {
  #scale = 1;
  #overheadMs = 0;
  #last: number;
  readonly #now: () => number;
  readonly #halfLifeMs: number;

  constructor(opts: TtftCalibratorOptions) {
    this.#now = opts.now;
    this.#halfLifeMs = opts.halfLifeMs ?? 5_000;
    this.#last = this.#now();
  }

  /** Current multiplier on estimated queue time. */
  get queueScale(): number {
    this.#decay();
    return this.#scale;
  }

  /** Current fixed overhead added to every estimate (ms). */
  get overheadMs(): number {
    this.#decay();
    return this.#overheadMs;
  }

  /** The corrected estimate. */
  correct(e: TtftEstimate): { queueMs: number; ttftMs: number } {
    this.#decay();
    const queueMs = e.queueMs * this.#scale;
    return { queueMs, ttftMs: queueMs + e.prefillMs + this.#overheadMs };
  }

  /** Folds in one request's measured TTFT against the (uncorrected) estimate it was admitted with. */
  observe(e: TtftEstimate, actualMs: number): void {
    if (!(actualMs >= 0) || !(e.queueMs >= 0) || !(e.prefillMs >= 0)) return;
    this.#decay();
    if (e.queueMs >= MIN_QUEUE_MS) {
      const ratio = Math.max(0, actualMs - e.prefillMs - this.#overheadMs) / e.queueMs;
      this.#scale = follow(this.#scale, clamp(ratio, SCALE_RANGE[0], SCALE_RANGE[1]));
    } else {
      const sample = Math.max(0, actualMs - e.prefillMs - e.queueMs * this.#scale);
      this.#overheadMs = follow(this.#overheadMs, Math.min(MAX_OVERHEAD_MS, sample));
    }
  }

  #decay(): void {
    const now = this.#now();
    const k = 0.5 ** (Math.max(0, now - this.#last) / this.#halfLifeMs);
    this.#last = now;
    this.#scale = 1 + (this.#scale - 1) * k;
    this.#overheadMs *= k;
  }
}

/** Asymmetric EWMA step toward `sample`. */
function follow(value: number, sample: number): number {
  return value + (sample > value ? ALPHA_UP : ALPHA_DOWN) * (sample - value);
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}
