/**
 * SLO-aware early admission (Mooncake): a request is rejected at once, with a typed
 * OverloadedError and a retry-after hint, when a queue bound is reached or when admitting it
 * would break the TTFT or TPOT target by the scheduler's estimates. Pure function; the scheduler
 * supplies the estimates (see scheduler-policy.ts).
 *
 * NOTE: pass the TPOT predicted for when the request JOINS decode (estimateDecodeTpotMs with the
 * requests already routed there), not the current one: Mooncake found that rejecting on current
 * load alone makes load oscillate between over- and under-admission.
 */
import type { SloTargets } from './engine-options.js';
import { OverloadedError } from './errors.js';

/** The scheduler's estimates for one request, taken from the chosen actors. */
export interface AdmissionEstimates {
  /** Estimated TTFT on the chosen prefill actor (PrefillChoice.ttftMs). */
  ttftMs: number;
  /** Its queue part (PrefillChoice.queueMs). */
  queueMs: number;
  /** Estimated TPOT on the chosen decode actor after joining; null when unknown (not measured). */
  tpotMs: number | null;
  /** Requests waiting for prefill, engine-wide, before this one. */
  queuedRequests: number;
  /** Prompt tokens waiting for prefill, engine-wide, before this one. */
  queuedPromptTokens: number;
}

/** Bounds that admission enforces. */
export interface AdmissionPolicy {
  /** null: no SLO-based rejection (queue bounds still apply). */
  slo: SloTargets | null;
  maxQueuedRequests: number;
  maxQueuedPromptTokens: number;
  /** Floor of every retry-after hint. Default 50 ms. */
  minRetryAfterMs?: number;
  /** A TPOT rejection suggests retrying after this many decode steps. Default 32. */
  tpotRetrySteps?: number;
}

/** Admit, or the error to raise. */
export type AdmissionDecision = { admitted: true } | { admitted: false; error: OverloadedError };

/**
 * Decides whether to admit a request of `promptTokens` tokens. Checks, in order: the queue bounds,
 * the TTFT target, the TPOT target. The retry-after hint is the estimated time until the broken
 * estimate would fit: the queue's drain time, the TTFT excess, or `tpotRetrySteps` decode steps.
 */
export function admit(
  req: { promptTokens: number },
  est: AdmissionEstimates,
  policy: AdmissionPolicy,
): AdmissionDecision {
  const floor = policy.minRetryAfterMs ?? 50;
  const reject = (estimate: 'ttft' | 'tpot' | 'queue', retryMs: number, why: string): AdmissionDecision => {
    const retryAfterMs = Math.ceil(Math.max(floor, retryMs));
    return {
      admitted: false,
      error: new OverloadedError({ estimate, retryAfterMs, message: `engine overloaded: ${why}; retry after ${retryAfterMs} ms` }),
    };
  };
  if (est.queuedRequests + 1 > policy.maxQueuedRequests) {
    return reject('queue', est.queueMs, `${est.queuedRequests} requests already queued (bound ${policy.maxQueuedRequests})`);
  }
  // NOTE: a prompt larger than the token bound is still admitted into an empty queue; otherwise
  // it could never run and its retries would loop forever.
  if (est.queuedPromptTokens > 0 && est.queuedPromptTokens + req.promptTokens > policy.maxQueuedPromptTokens) {
    return reject(
      'queue',
      est.queueMs,
      `${est.queuedPromptTokens} + ${req.promptTokens} queued prompt tokens exceed the bound ${policy.maxQueuedPromptTokens}`,
    );
  }
  const slo = policy.slo;
  if (slo === null) return { admitted: true };
  if (est.ttftMs > slo.ttftMs) {
    return reject('ttft', est.ttftMs - slo.ttftMs, `estimated TTFT ${fmt(est.ttftMs)} ms exceeds the SLO ${slo.ttftMs} ms`);
  }
  if (est.tpotMs !== null && est.tpotMs > slo.tpotMs) {
    return reject(
      'tpot',
      est.tpotMs * (policy.tpotRetrySteps ?? 32),
      `estimated TPOT ${fmt(est.tpotMs)} ms exceeds the SLO ${slo.tpotMs} ms`,
    );
  }
  return { admitted: true };
}

function fmt(ms: number): string {
  return ms.toFixed(1);
}
