/**
 * A fixed-bucket histogram, Prometheus-compatible: cumulative `le` buckets ending in +Inf, a count
 * and a sum; quantiles interpolate linearly inside the bucket like PromQL's `histogram_quantile`.
 *
 * Invariants: bucket upper bounds are finite, strictly increasing; the +Inf bucket is implicit;
 * memory is O(buckets) whatever the number of observations.
 */
import { EngineError } from './errors.js';

/** Plain-data state of a {@link Histogram}. */
export interface HistogramSnapshot {
  /** Finite upper bounds (`le`), ascending; +Inf is implicit. */
  bounds: number[];
  /** Cumulative counts per bound, then the +Inf count (length bounds.length + 1). */
  cumulative: number[];
  count: number;
  sum: number;
  /** Smallest and largest observation; null while empty. */
  min: number | null;
  max: number | null;
}

/** `count` bounds `start, start*factor, ...` (Prometheus `ExponentialBuckets`). */
export function exponentialBuckets(start: number, factor: number, count: number): number[] {
  if (!(start > 0) || !(factor > 1) || !Number.isInteger(count) || count < 1) {
    throw new EngineError(`exponentialBuckets(${start}, ${factor}, ${count}): need start > 0, factor > 1, integer count >= 1`);
  }
  return Array.from({ length: count }, (_, i) => start * factor ** i);
}

/** `count` bounds `start, start+width, ...` (Prometheus `LinearBuckets`). */
export function linearBuckets(start: number, width: number, count: number): number[] {
  if (!Number.isFinite(start) || !(width > 0) || !Number.isInteger(count) || count < 1) {
    throw new EngineError(`linearBuckets(${start}, ${width}, ${count}): need finite start, width > 0, integer count >= 1`);
  }
  return Array.from({ length: count }, (_, i) => start + width * i);
}

/** Default latency bounds in milliseconds: 0.5 ms .. ~65 s, doubling. */
export const DEFAULT_LATENCY_BUCKETS_MS: readonly number[] = Object.freeze(exponentialBuckets(0.5, 2, 18));

/** Fixed-bucket histogram of non-negative or signed finite values. */
export class Histogram {
  readonly #bounds: number[];
  /** Non-cumulative counts; last slot is the +Inf bucket. */
  readonly #counts: number[];
  #count = 0;
  #sum = 0;
  #min = Infinity;
  #max = -Infinity;

  constructor(bounds: readonly number[] = DEFAULT_LATENCY_BUCKETS_MS) {
    if (bounds.length === 0) throw new EngineError('Histogram bounds must not be empty');
    bounds.forEach((b, i) => {
      if (!Number.isFinite(b) || (i > 0 && b <= bounds[i - 1])) {
        throw new EngineError(`Histogram bounds must be finite and strictly increasing; bound[${i}] = ${b}`);
      }
    });
    this.#bounds = [...bounds];
    this.#counts = new Array<number>(bounds.length + 1).fill(0);
  }

  /** Adds one observation. Non-finite values are refused (they would poison `sum`). */
  observe(value: number): void {
    if (!Number.isFinite(value)) throw new EngineError(`Histogram.observe: value must be finite, got ${value}`);
    this.#counts[this.#bucketOf(value)]++;
    this.#count++;
    this.#sum += value;
    if (value < this.#min) this.#min = value;
    if (value > this.#max) this.#max = value;
  }

  get count(): number {
    return this.#count;
  }

  get sum(): number {
    return this.#sum;
  }

  /** Arithmetic mean; null while empty. */
  get mean(): number | null {
    return this.#count === 0 ? null : this.#sum / this.#count;
  }

  /**
   * Estimated q-quantile (0 <= q <= 1), null while empty. Linear inside the bucket as
   * `histogram_quantile` does; NOTE: unlike Prometheus the result is clamped to the observed
   * [min, max], which removes the +Inf bucket's and the first bucket's guesswork.
   */
  quantile(q: number): number | null {
    if (!(q >= 0 && q <= 1)) throw new EngineError(`Histogram.quantile: q must be in [0, 1], got ${q}`);
    if (this.#count === 0) return null;
    const rank = q * this.#count;
    let below = 0;
    let i = 0;
    while (i < this.#counts.length - 1 && below + this.#counts[i] < rank) below += this.#counts[i++];
    const upper = i < this.#bounds.length ? this.#bounds[i] : this.#max;
    const lower = i === 0 ? Math.min(0, this.#min) : this.#bounds[i - 1];
    const inBucket = this.#counts[i];
    const estimate = inBucket === 0 ? upper : lower + (upper - lower) * ((rank - below) / inBucket);
    return Math.min(this.#max, Math.max(this.#min, estimate));
  }

  /** Plain-data copy (cumulative buckets, Prometheus style). */
  snapshot(): HistogramSnapshot {
    let acc = 0;
    const cumulative = this.#counts.map((c) => (acc += c));
    return {
      bounds: [...this.#bounds],
      cumulative,
      count: this.#count,
      sum: this.#sum,
      min: this.#count === 0 ? null : this.#min,
      max: this.#count === 0 ? null : this.#max,
    };
  }

  /** Prometheus text exposition lines for this histogram under `name` (with optional labels). */
  toPrometheus(name: string, labels: Record<string, string> = {}): string {
    const snap = this.snapshot();
    const fmt = (extra: Record<string, string>): string => {
      const all = { ...labels, ...extra };
      const parts = Object.entries(all).map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`))}"`);
      return parts.length === 0 ? '' : `{${parts.join(',')}}`;
    };
    const lines = snap.bounds.map((b, i) => `${name}_bucket${fmt({ le: String(b) })} ${snap.cumulative[i]}`);
    lines.push(`${name}_bucket${fmt({ le: '+Inf' })} ${snap.count}`);
    lines.push(`${name}_sum${fmt({})} ${snap.sum}`, `${name}_count${fmt({})} ${snap.count}`);
    return lines.join('\n');
  }

  #bucketOf(value: number): number {
    // Binary search for the first bound >= value (`le` semantics).
    let lo = 0;
    let hi = this.#bounds.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (value <= this.#bounds[mid]) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}
