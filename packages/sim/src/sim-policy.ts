/**
 * The policy code the simulator runs: the engine's own exports, referenced here once so a test can
 * check identity (`SIM_POLICY.choosePrefill === choosePrefill` from @baton/engine). Two small
 * mappings the engine's scheduler actor keeps private are mirrored below — they must be kept in
 * step with packages/engine/src/actors/scheduler-actor.ts (the policy test pins their behaviour).
 */
import { admit, chooseDecode, choosePrefill, estimateDecodeTpotMs, LengthPredictor, type DecodePrediction, type LengthPrediction, type PrefillLoad } from '@baton/engine';

/** The engine functions and classes every simulated decision goes through. */
export const SIM_POLICY = Object.freeze({ choosePrefill, chooseDecode, admit, estimateDecodeTpotMs, LengthPredictor });

/**
 * A bucket prediction as decode placement sees it: long = the top bucket or bucket >= 2; expected
 * output = the bucket's midpoint (twice its floor when unbounded), capped by maxTokens.
 * NOTE: mirrors the scheduler actor's private `toDecodePrediction`.
 */
export function toDecodePrediction(p: LengthPrediction, maxTokens: number): DecodePrediction {
  const { min, max } = p.range;
  const expected = max === null ? min * 2 : (min + max) / 2;
  return { isLong: max === null || p.bucket >= 2, expectedOutputTokens: Math.min(maxTokens, Math.max(1, expected)) };
}

/**
 * The colocated load with the fewest outstanding requests (running + queued), then fewest queued
 * tokens; the first on ties. NOTE: mirrors the scheduler actor's private `leastOutstanding`.
 */
export function leastOutstanding(loads: readonly PrefillLoad[]): PrefillLoad {
  return loads.reduce((best, l) =>
    l.queuedRequests < best.queuedRequests || (l.queuedRequests === best.queuedRequests && l.queuedPromptTokens < best.queuedPromptTokens) ? l : best,
  );
}
