/**
 * EngineOverhead: what the engine's own machinery adds around the model calls a profile times —
 * the path of a request from `generate()` to its prefill (the hop to the scheduler, its decision,
 * the hop to the prefill actor), a prefill step's cost beyond its model calls (the actor's turn,
 * first-token sampling and streaming, prefix publication, the engine's paged KV), the handoff gap
 * between the first token and the second (the `prefilled` message, the KV load, joining the batch),
 * and a decode step's cost beyond its model call (sampling, token messages, batch bookkeeping).
 * Measured end to end on a real engine (`engine-probe.ts`), fitted here.
 *
 * Invariants of a fitted {@link EngineOverhead}: every duration >= 0; the prefill scale > 0; the points it
 * was fitted from are kept with it (model-call ms as the profile predicts them, engine ms as measured),
 * its decode line is {@link fitDecodeOverhead} and its prefill line {@link fitPrefillOverhead} of
 * those points (older profiles are refitted on load by {@link refitEngineOverhead}).
 */

/** One probe case: what the profile's model calls predict and what the engine took, ms (medians). */
export interface OverheadPoint {
  kind: 'prefill' | 'decode';
  /** Prompt tokens (prefill) or sequences in the step (decode). */
  size: number;
  /** Mean context of the step's sequences (decode), prompt tokens (prefill). */
  context: number;
  modelMs: number;
  engineMs: number;
  /**
   * Decode cases: the mean of the same token gaps (absent in profiles recorded before it was kept).
   * A request's TPOT is the mean of its gaps, and a queue of steps grows with their mean, so the
   * decode line is fitted to it where it exists.
   */
  engineMeanMs?: number;
}

/**
 * The engine's path costs on one machine: a prompt's prefill ≈ prefillFixedMs + prefillScale ×
 * model ms; a decode step of b sequences ≈ model ms + decodeFixedMs + decodePerSeqMs × b; plus two
 * latencies outside any step.
 */
export interface EngineOverhead {
  /** `generate()` → prefill start of a lone request, ms (hops and the scheduler's decision included). */
  pathMs: number;
  /** Per prompt in a prefill step, besides its model calls, ms. */
  prefillFixedMs: number;
  /** Engine prefill time per ms of the profile's model calls. */
  prefillScale: number;
  /** First → second token beyond one decode step at batch 1, ms (handoff message, KV load, join). */
  handoffMs: number;
  /** Per decode step, besides its model call, ms. */
  decodeFixedMs: number;
  /** Per sequence in a decode step, besides its share of the model call, ms. */
  decodePerSeqMs: number;
  points: OverheadPoint[];
}

/** A line `y ≈ fixed + scale × x` through measured pairs. */
export interface LineFit {
  fixed: number;
  scale: number;
}

/**
 * Least-squares line through `(x, y)` pairs, kept physical: a negative intercept is refitted
 * through the origin, and a slope below `minScale` (noise, or too few distinct x) falls back to
 * slope `fallbackScale` with the median of y − fallbackScale × x as the intercept (never below 0).
 */
export function fitLine(pairs: ReadonlyArray<{ x: number; y: number }>, minScale = 0.5, fallbackScale = 1): LineFit {
  const n = pairs.length;
  if (n === 0) return { fixed: 0, scale: fallbackScale };
  const mx = pairs.reduce((s, p) => s + p.x, 0) / n;
  const my = pairs.reduce((s, p) => s + p.y, 0) / n;
  let sxx = 0;
  let sxy = 0;
  for (const p of pairs) {
    sxx += (p.x - mx) ** 2;
    sxy += (p.x - mx) * (p.y - my);
  }
  let scale = sxx > 0 ? sxy / sxx : NaN;
  let fixed = my - scale * mx;
  if (Number.isFinite(scale) && fixed < 0) {
    // NOTE: through the origin: the machinery cannot take negative time.
    const s2 = pairs.reduce((s, p) => s + p.x * p.x, 0);
    scale = s2 > 0 ? pairs.reduce((s, p) => s + p.x * p.y, 0) / s2 : NaN;
    fixed = 0;
  }
  if (!(Number.isFinite(scale) && scale >= minScale)) {
    const diffs = pairs.map((p) => p.y - fallbackScale * p.x).sort((a, b) => a - b);
    return { fixed: Math.max(0, diffs[Math.floor(n / 2)]), scale: fallbackScale };
  }
  return { fixed, scale };
}

/**
 * A decode case whose extra time is more than this many times the median of the other cases at its
 * batch size was disturbed while it was measured (a stall of the machine, not the engine's path).
 */
export const DISTURBED_RATIO = 3;

/**
 * The decode line `extra ms ≈ fixed + scale × sequences` through the probe's decode cases (extra =
 * engine ms − model ms, the engine's mean gap where it was kept), by least squares, leaving out disturbed cases: those more than
 * {@link DISTURBED_RATIO} times the median of at least two other cases at the same batch size.
 * NOTE: the lone requests give several cases at batch 1 (one per prompt length) and the bursts one
 * per larger batch, so least squares puts the line through the MEAN of the batch-1 cases there: one
 * disturbed case (2.3 ms extra against 0.3-0.4 ms for the other three, on a 16-core Xeon) made
 * every simulated decode step at batch 1 0.45 ms (45%) longer than the engine's.
 */
export function fitDecodeOverhead(points: readonly OverheadPoint[]): LineFit {
  const decode = points.filter((p) => p.kind === 'decode');
  // NOTE: the mean gap where the probe kept it (a step's median understates what TPOT averages: by
  // 3-4% at batch 1 and 8-13% at batch 4 on the 2-core VM).
  const extra = (p: OverheadPoint): number => (p.engineMeanMs ?? p.engineMs) - p.modelMs;
  const kept = decode.filter((p) => {
    const peers = decode.filter((q) => q !== p && q.size === p.size).map(extra);
    if (peers.length < 2) return true;
    const m = median(peers);
    return !(m > 0 && extra(p) > DISTURBED_RATIO * m);
  });
  return fitLine(kept.map((p) => ({ x: p.size, y: extra(p) })), 0, 0);
}

/**
 * The prefill line `engine ms ≈ fixed + scale × model ms` through the probe's prefill cases (least
 * squares, {@link fitLine}), leaving out disturbed cases: a case whose extra time over its model
 * calls is more than {@link DISTURBED_RATIO} times the extra that the line through the other cases
 * (at least two) predicts for it. Disturbances only add time, so only cases above are left out.
 * NOTE: in quick mode the probe's median of two repetitions is their mean: on the 2-core VM one
 * stalled repetition of the 512-token case (engine 112.7 ms against 63.8 ms of model calls; the
 * other cases x1.07-1.20) put the line at x1.63 through it, and every simulated prefill with it.
 */
export function fitPrefillOverhead(points: readonly OverheadPoint[]): LineFit {
  const prefill = points.filter((p) => p.kind === 'prefill');
  const left = disturbedPrefill(prefill);
  return fitLine(prefill.filter((p) => !left.includes(p)).map(prefillPair));
}

/** The prefill cases {@link fitPrefillOverhead} leaves out (none when fewer than two would stay). */
export function disturbedPrefill(points: readonly OverheadPoint[]): OverheadPoint[] {
  const prefill = points.filter((p) => p.kind === 'prefill');
  const left = prefill.filter((p) => {
    const others = prefill.filter((q) => q !== p);
    if (others.length < 2) return false;
    const line = fitLine(others.map(prefillPair));
    const expected = line.fixed + line.scale * p.modelMs - p.modelMs;
    return expected > 0 && p.engineMs - p.modelMs > DISTURBED_RATIO * expected;
  });
  return prefill.length - left.length >= 2 ? left : [];
}

function prefillPair(p: OverheadPoint): { x: number; y: number } {
  return { x: p.modelMs, y: p.engineMs };
}

/**
 * `e` with its decode line refitted from its own points by {@link fitDecodeOverhead} (unchanged
 * without decode points). The handoff latency was measured beyond one decode step at batch 1 as
 * the old line charged it, so it moves by the difference at batch 1: first-to-second-token time of a
 * lone request stays what the probe measured.
 */
export function refitDecodeOverhead(e: EngineOverhead): EngineOverhead {
  if (!e.points.some((p) => p.kind === 'decode')) return e;
  const d = fitDecodeOverhead(e.points);
  const shift = e.decodeFixedMs + e.decodePerSeqMs - (d.fixed + d.scale);
  return { ...e, decodeFixedMs: d.fixed, decodePerSeqMs: d.scale, handoffMs: Math.max(0, e.handoffMs + shift) };
}

/**
 * `e` with both lines refitted from its own points: the decode line by {@link refitDecodeOverhead},
 * the prefill line by {@link fitPrefillOverhead} when it leaves a case out (else the line recorded).
 */
export function refitEngineOverhead(e: EngineOverhead): EngineOverhead {
  const d = refitDecodeOverhead(e);
  if (disturbedPrefill(e.points).length === 0) return d;
  const f = fitPrefillOverhead(e.points);
  return { ...d, prefillFixedMs: f.fixed, prefillScale: f.scale };
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}
