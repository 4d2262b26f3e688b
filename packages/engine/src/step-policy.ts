/**
 * Step policy: the pure decisions the engine's actors take every step and every placement, kept
 * out of the actors so that anything replaying the engine (the simulator) runs the same code:
 * which waiting prompt a prefill step takes under its token budget, how long a chunked step's
 * prefill chunk is, which running sequence is preempted, the one throughput prefill candidates are
 * weighed at, how a length prediction becomes a decode hint, which instance the least-loaded
 * fallbacks pick, and the queue totals and TPOT figure admission is judged on.
 *
 * Invariants: no I/O, no clocks, no state; ties go to the first candidate in the order given.
 */
import type { LengthPrediction } from './length-predictor.js';
import { estimateDecodeTpotMs, type DecodeLoad, type DecodePrediction, type PrefillLoad } from './scheduler-policy.js';

/** Retry delay of a step that found the KV pool (or the handoff slots) exhausted, ms. */
export const BLOCKED_RETRY_MS = 2;

/** Weight of the newest sample in the decode step-time EWMA that load reports carry. */
export const STEP_EWMA_ALPHA = 0.2;

/** Least time between two load reports of an actor unless one is forced, ms (the throttle of its `LoadReporter`). */
export const REPORT_INTERVAL_MS = 5;

/** Where a prefill-style step stands while it walks the waiting prompts. */
export interface PromptStep {
  /** Prompt tokens the step may still take. */
  budget: number;
  /** Prompts the step has taken so far. */
  taken: number;
  /**
   * Length of the shortest prompt that could not get KV in this step (`Infinity` when none):
   * prompts at least this long are skipped, shorter ones may still fit.
   */
  blockedAt: number;
}

/**
 * Whether a step takes a waiting prompt of `cost` tokens now: the first prompt always (a prompt
 * longer than the budget must still run), later ones only within the remaining budget, and none
 * as long as one that was just refused KV.
 */
export function takesPrompt(cost: number, step: PromptStep): boolean {
  return !((step.taken > 0 && cost > step.budget) || cost >= step.blockedAt);
}

/**
 * Tokens of the prefilling prompt a chunked (Sarathi-style) step computes: what the token budget
 * leaves after one token per decoding sequence, at most `chunkSize`, at most what is left of the
 * prompt; 0 when nothing is left over.
 */
export function chunkTokens(limits: { tokenBudget: number; chunkSize: number }, decoding: number, remaining: number): number {
  const room = Math.min(limits.tokenBudget - decoding, limits.chunkSize);
  return room <= 0 ? 0 : Math.max(0, Math.min(room, remaining));
}

/** How a running sequence looks to the preemption policy. */
export interface VictimView {
  /** Tokens it may still produce before its max_tokens. */
  remainingTokens: number;
  /** KV blocks it still needs to reach its max_tokens (0 when it holds them all). */
  blocksToFinish: number;
  /** Tokens it produced since it was last resumed after a preemption; null when it never was. */
  tokensSinceResume: number | null;
}

/** A sequence that needs at most this many more blocks to finish is preempted only when nothing else can be. */
export const NEAR_FINISH_BLOCKS = 2;

/** A sequence resumed after a preemption is not preempted again before it produced this many tokens (no thrashing). */
export const PREEMPT_GRACE_TOKENS = 32;

/**
 * The running sequence preempted when the pool runs out (`running` is in admission order): the
 * sequence with the most tokens left to produce (ties: the youngest), among those neither near their end ({@link NEAR_FINISH_BLOCKS}) nor resumed
 * within {@link PREEMPT_GRACE_TOKENS}; failing that among those not near their end; failing that
 * among all. A short request is then never preempted while a long one could be, so its wait
 * behind a full pool is bounded by its own length, not by the long requests'.
 */
export function preemptionVictim<T>(running: readonly T[], view: (r: T) => VictimView): T | undefined {
  const views = running.map(view);
  const nearEnd = (v: VictimView): boolean => v.blocksToFinish <= NEAR_FINISH_BLOCKS;
  const inGrace = (v: VictimView): boolean => v.tokensSinceResume !== null && v.tokensSinceResume < PREEMPT_GRACE_TOKENS;
  const tiers: ((v: VictimView) => boolean)[] = [(v) => !nearEnd(v) && !inGrace(v), (v) => !nearEnd(v), () => true];
  for (const eligible of tiers) {
    let best = -1;
    views.forEach((v, i) => {
      if (eligible(v) && (best < 0 || v.remainingTokens >= views[best].remainingTokens)) best = i;
    });
    if (best >= 0) return running[best];
  }
  return undefined;
}

/**
 * A bucket prediction as decode placement sees it: long = the unbounded top bucket or bucket >= 2;
 * expected output = the bucket's midpoint (twice its floor when unbounded), within [1, maxTokens].
 */
export function toDecodePrediction(p: LengthPrediction, maxTokens: number): DecodePrediction {
  const { min, max } = p.range;
  const expected = max === null ? min * 2 : (min + max) / 2;
  return { isLong: max === null || p.bucket >= 2, expectedOutputTokens: Math.min(maxTokens, Math.max(1, expected)) };
}

/**
 * The prefill candidates with one throughput, the median of theirs.
 * NOTE: the prefill actors of one engine run the same model on the same kind of core, but each one
 * measures its rate on what it happened to prefill: an actor that served cache hits computed short
 * suffixes, whose fixed per-call cost makes it look slow, and an actor never chosen keeps the rate
 * of its first (warm-up) call. Routing on per-actor rates then sends everything to whichever actor
 * measured a long prompt last and avoids the actors that hold the cache; one rate leaves the
 * choice to what differs: queued tokens and the uncached suffix.
 */
export function pooledRate(loads: readonly PrefillLoad[]): PrefillLoad[] {
  const rates = loads.map((l) => l.tokensPerSecond).sort((a, b) => a - b);
  const mid = rates.length >> 1;
  const rate = rates.length === 0 ? 0 : rates.length % 2 === 1 ? rates[mid] : (rates[mid - 1] + rates[mid]) / 2;
  return loads.map((l) => ({ ...l, tokensPerSecond: rate }));
}

/**
 * The colocated load with the fewest outstanding requests (its `queuedRequests` count running and
 * queued ones, see {@link colocatedRoutingLoad}), then the fewest queued tokens.
 */
export function leastOutstanding(loads: readonly PrefillLoad[]): PrefillLoad {
  return loads.reduce((best, l) =>
    l.queuedRequests < best.queuedRequests || (l.queuedRequests === best.queuedRequests && l.queuedPromptTokens < best.queuedPromptTokens) ? l : best,
  );
}

/**
 * What the scheduler routes a colocated instance on: the requests it has routed there and not seen
 * finish (running decodes slow the instance's next prefill and each suffers that prefill's stall,
 * so running and queued both count as outstanding), the prompt tokens of those without a first
 * token yet, and the instance's reported rate.
 * NOTE: counts from the scheduler's own ledger, not from the instance's last report: a report is
 * throttled and a hop late, and one that replaced the counts forgot every request routed since it
 * was sent, so a burst piled onto the instance whose report had just arrived.
 */
export function colocatedRoutingLoad(report: { id: string; tokensPerSecond: number }, ledger: { requests: number; prefillTokens: number }): PrefillLoad {
  return { id: report.id, queuedPromptTokens: ledger.prefillTokens, queuedRequests: ledger.requests, tokensPerSecond: report.tokensPerSecond };
}

/**
 * Index of the decode load with the fewest sequences (running + queued), preferring instances
 * that are not down; the fallback when no decode instance has KV room for a request. 0 when empty.
 */
export function leastLoadedDecode(loads: readonly DecodeLoad[], isDown: (id: string) => boolean = () => false): number {
  let best = -1;
  loads.forEach((d, i) => {
    const b = best < 0 ? null : loads[best];
    const better = b === null || (isDown(b.id) && !isDown(d.id)) ||
      (isDown(b.id) === isDown(d.id) && d.running + d.queued < b.running + b.queued);
    if (better) best = i;
  });
  return Math.max(0, best);
}

/** The lowest TPOT any decode instance that is up would give a request joining it; null when none has measured a step. */
export function bestDecodeTpotMs(loads: readonly DecodeLoad[], isDown: (id: string) => boolean = () => false): number | null {
  let best: number | null = null;
  for (const d of loads) {
    if (isDown(d.id)) continue;
    const t = estimateDecodeTpotMs(d, { joining: 1 });
    if (t !== null && (best === null || t < best)) best = t;
  }
  return best;
}

/** Queued requests and prompt tokens over every load (the engine-wide queue bounds of admission). */
export function queueTotals(loads: readonly PrefillLoad[]): { queuedRequests: number; queuedPromptTokens: number } {
  let queuedRequests = 0;
  let queuedPromptTokens = 0;
  for (const l of loads) {
    queuedRequests += l.queuedRequests;
    queuedPromptTokens += l.queuedPromptTokens;
  }
  return { queuedRequests, queuedPromptTokens };
}
