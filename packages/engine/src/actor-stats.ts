/**
 * Per-actor statistics: utilization (busy time / wall time over a sliding window), a histogram of
 * batch sizes, and the latest gauges (queue length, KV blocks used). Fed by the actors' reports;
 * read by `engine.stats()` and the live progress view.
 *
 * Invariants: busy intervals of one actor are kept sorted and non-overlapping (overlaps are merged,
 * so utilization never exceeds 1); intervals older than the window are dropped, so memory stays
 * bounded by the window.
 */
import { EngineError } from './errors.js';
import { Histogram, linearBuckets, type HistogramSnapshot } from './histogram.js';

/** Latest point-in-time values an actor reported. */
export interface ActorGauges {
  queueLength: number;
  /** null for actors that hold no KV (scheduler, length predictor). */
  kvBlocksUsed: number | null;
  kvBlocksTotal: number | null;
}

/** Plain-data statistics of one actor at a moment. */
export interface ActorStatsSnapshot extends ActorGauges {
  actorId: string;
  /** Busy share of the window (or of the time since the first report, if shorter); 0..1. */
  utilization: number;
  batchSizes: HistogramSnapshot;
  /** Mean batch size; null before the first batch. */
  meanBatchSize: number | null;
  /** Largest queue length reported. */
  maxQueueLength: number;
}

interface ActorState {
  firstSeenMs: number;
  busy: Array<[number, number]>;
  batches: Histogram;
  gauges: ActorGauges;
  maxQueueLength: number;
}

/** Collects per-actor stats keyed by actor id. All times are ms on the engine's shared clock. */
export class ActorStatsAggregator {
  readonly #windowMs: number;
  readonly #batchBounds: number[];
  readonly #actors = new Map<string, ActorState>();

  /** @param opts.windowMs utilization window (default 10 s); @param opts.maxBatch sizes the batch histogram. */
  constructor(opts: { windowMs?: number; maxBatch?: number } = {}) {
    this.#windowMs = opts.windowMs ?? 10_000;
    if (!(this.#windowMs > 0)) throw new EngineError(`ActorStatsAggregator: windowMs must be > 0, got ${this.#windowMs}`);
    const maxBatch = opts.maxBatch ?? 64;
    const width = Math.max(1, Math.ceil(maxBatch / 16));
    this.#batchBounds = linearBuckets(width, width, Math.min(16, maxBatch));
  }

  /** The actor was busy (running a step) from `startMs` to `endMs`. */
  busy(actorId: string, startMs: number, endMs: number): void {
    if (!(endMs >= startMs)) throw new EngineError(`busy interval of actor "${actorId}" ends (${endMs}) before it starts (${startMs})`);
    const s = this.#state(actorId, startMs);
    const intervals = s.busy;
    const last = intervals[intervals.length - 1];
    if (last !== undefined && startMs <= last[1]) {
      // NOTE: reports may overlap or come slightly out of order; merge rather than double count.
      last[0] = Math.min(last[0], startMs);
      last[1] = Math.max(last[1], endMs);
    } else {
      intervals.push([startMs, endMs]);
    }
  }

  /** The actor ran a batch of `size` sequences (or requests). */
  batch(actorId: string, size: number, atMs: number): void {
    this.#state(actorId, atMs).batches.observe(size);
  }

  /** Latest gauges of the actor. */
  gauges(actorId: string, gauges: ActorGauges, atMs: number): void {
    const s = this.#state(actorId, atMs);
    s.gauges = { ...gauges };
    s.maxQueueLength = Math.max(s.maxQueueLength, gauges.queueLength);
  }

  /** Forgets an actor (it was stopped or replaced). */
  remove(actorId: string): void {
    this.#actors.delete(actorId);
  }

  /** Statistics of every known actor at `nowMs`, ordered by actor id. */
  snapshot(nowMs: number): ActorStatsSnapshot[] {
    return [...this.#actors.keys()].sort().map((id) => this.snapshotOf(id, nowMs)!);
  }

  /** Statistics of one actor at `nowMs`; null if it never reported. */
  snapshotOf(actorId: string, nowMs: number): ActorStatsSnapshot | null {
    const s = this.#actors.get(actorId);
    if (s === undefined) return null;
    const from = Math.max(nowMs - this.#windowMs, s.firstSeenMs);
    this.#prune(s, nowMs - this.#windowMs);
    let busy = 0;
    for (const [a, b] of s.busy) busy += Math.max(0, Math.min(b, nowMs) - Math.max(a, from));
    const wall = nowMs - from;
    return {
      actorId,
      utilization: wall > 0 ? Math.min(1, busy / wall) : 0,
      batchSizes: s.batches.snapshot(),
      meanBatchSize: s.batches.mean,
      maxQueueLength: s.maxQueueLength,
      ...s.gauges,
    };
  }

  #state(actorId: string, atMs: number): ActorState {
    let s = this.#actors.get(actorId);
    if (s === undefined) {
      s = {
        firstSeenMs: atMs,
        busy: [],
        batches: new Histogram(this.#batchBounds),
        gauges: { queueLength: 0, kvBlocksUsed: null, kvBlocksTotal: null },
        maxQueueLength: 0,
      };
      this.#actors.set(actorId, s);
    }
    s.firstSeenMs = Math.min(s.firstSeenMs, atMs);
    return s;
  }

  #prune(s: ActorState, beforeMs: number): void {
    let drop = 0;
    while (drop < s.busy.length && s.busy[drop][1] <= beforeMs) drop++;
    if (drop > 0) s.busy.splice(0, drop);
  }
}
