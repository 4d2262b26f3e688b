/**
 * The policy code the simulator runs: the engine's own exports, referenced here once so a test can
 * check identity (`SIM_POLICY.choosePrefill === choosePrefill` from @baton/engine). Routing,
 * admission and length prediction come from the scheduler's policy modules; which prompts a step
 * takes, a chunked step's chunk, the preemption victim, the least-loaded fallbacks, admission's
 * inputs, the retry delay, the step-time EWMA weight and the load-report interval from the engine's step policy, which its
 * actors call as well. Nothing here is re-implemented.
 */
import {
  admit,
  bestDecodeTpotMs,
  BLOCKED_RETRY_MS,
  chooseDecode,
  choosePrefill,
  chunkTokens,
  colocatedRoutingLoad,
  estimateDecodeTpotMs,
  leastLoadedDecode,
  leastOutstanding,
  LengthPredictor,
  pooledRate,
  preemptionVictim,
  queueTotals,
  REPORT_INTERVAL_MS,
  STEP_EWMA_ALPHA,
  takesPrompt,
  toDecodePrediction,
} from '@baton/engine';

/** The engine functions, classes and constants every simulated decision goes through. */
export const SIM_POLICY = Object.freeze({
  choosePrefill,
  chooseDecode,
  admit,
  estimateDecodeTpotMs,
  LengthPredictor,
  toDecodePrediction,
  leastOutstanding,
  pooledRate,
  colocatedRoutingLoad,
  leastLoadedDecode,
  bestDecodeTpotMs,
  queueTotals,
  takesPrompt,
  chunkTokens,
  preemptionVictim,
  blockedRetryMs: BLOCKED_RETRY_MS,
  stepEwmaAlpha: STEP_EWMA_ALPHA,
  reportIntervalMs: REPORT_INTERVAL_MS,
});
