/**
 * A request inside the simulator: what arrived (prompt, output length) and what has happened to
 * it so far (the same timestamps the engine's timing records carry), plus the arrival source
 * contract the simulator pulls requests from.
 */

/** One arriving request. `promptIds` may be shared between arrivals (it is never written). */
export interface SimArrival {
  index: number;
  arrivalMs: number;
  promptIds: readonly number[];
  maxTokens: number;
  /**
   * Distinct content under the same shape: when set, the prompt's block hashes are salted with it,
   * so a shared `promptIds` array stands for a prompt nobody else sent (no prefix-cache hits).
   */
  salt?: number;
}

/** Arrivals in time order, pulled one at a time (an hour at scale never sits in memory). */
export interface ArrivalSource {
  next(): SimArrival | null;
}

/** How a request ended. */
export type SimOutcome = 'finished' | 'rejected' | 'failed' | 'aborted';

/** A request in flight. */
export class SimRequest {
  readonly index: number;
  readonly arrivalMs: number;
  readonly promptIds: readonly number[];
  readonly promptTokens: number;
  readonly maxTokens: number;
  /** Chained hashes of the prompt's full KV blocks. */
  readonly hashes: number[];
  prefillStartMs: number | null = null;
  firstTokenMs: number | null = null;
  lastTokenMs: number | null = null;
  kvStartMs: number | null = null;
  kvEndMs: number | null = null;
  /** Tokens emitted so far (the first comes from prefill). */
  emitted = 0;
  /** Decode instance index the scheduler chose (disaggregated), else -1. */
  decode = -1;
  isLong = false;
  /** Colocated instance index the scheduler chose (colocated modes), else -1. */
  colocated = -1;
  /** Prompt tokens the scheduler's ledger charges the request's colocated instance until its first token. */
  ledgerTokens = 0;
  done = false;

  constructor(a: SimArrival, hashes: number[]) {
    this.index = a.index;
    this.arrivalMs = a.arrivalMs;
    this.promptIds = a.promptIds;
    this.promptTokens = a.promptIds.length;
    this.maxTokens = a.maxTokens;
    this.hashes = hashes;
  }
}

/** Adapts an array of arrivals (sorted here by time, then index) to an ArrivalSource. */
export function arrayArrivals(arrivals: readonly SimArrival[]): ArrivalSource {
  const sorted = [...arrivals].sort((a, b) => a.arrivalMs - b.arrivalMs || a.index - b.index);
  let i = 0;
  return { next: () => (i < sorted.length ? sorted[i++] : null) };
}
