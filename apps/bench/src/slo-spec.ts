/**
 * SLO specifications of the bench: fixed targets (one TTFT and one TPOT for every request, as in
 * DistServe), or slowdown targets (Splitwise): K times what the request would take alone on this
 * machine — its uncontended TTFT for its prompt length and the uncontended TPOT — measured at the
 * start of the same run (see calibration.ts), so one command means the same on any machine.
 *
 * Invariants: `targetsFor` is positive and non-decreasing in the prompt length; `scaled(s)`
 * multiplies every target by s (the SLO-scale sweep); `nominal` is the targets of the reference
 * prompt (the workload's median), used where one pair must stand for the spec (tables, charts,
 * and the engine's admission, which knows fixed targets only).
 */
import { meetsSlo, requestMetrics, type RequestTimingRecord, type SloTargets } from '@baton/engine';

/** Uncontended latencies: TTFT measured at a few prompt lengths, and one TPOT. */
export interface UncontendedReference {
  /** Sorted by prompt length, at least one point; TTFT of a request alone, ms (median). */
  ttft: ReadonlyArray<{ promptTokens: number; ttftMs: number }>;
  /** TPOT of a request alone, ms (median). */
  tpotMs: number;
}

/** Targets for every request of a run. */
export interface SloSpec {
  /** e.g. "TTFT 250 ms / TPOT 2 ms" or "4x uncontended". */
  readonly label: string;
  /** Targets of a request with `promptTokens` prompt tokens. */
  targetsFor(promptTokens: number): SloTargets;
  /** Targets of the reference prompt. */
  readonly nominal: SloTargets;
  /** The same spec with every target multiplied by `s`. */
  scaled(s: number): SloSpec;
}

/** Fixed targets. */
export function fixedSlo(t: SloTargets): SloSpec {
  return {
    label: `TTFT ${fmt(t.ttftMs)} ms / TPOT ${fmt(t.tpotMs)} ms`,
    targetsFor: () => t,
    nominal: t,
    scaled: (s) => fixedSlo({ ttftMs: t.ttftMs * s, tpotMs: t.tpotMs * s }),
  };
}

/**
 * Slowdown targets: TTFT target = k.ttft x the reference TTFT at the request's prompt length
 * (linear between measured lengths, proportional to the length beyond them), TPOT = k.tpot x the
 * reference TPOT. A number gives both factors.
 */
export function slowdownSlo(k: number | { ttft: number; tpot: number }, ref: UncontendedReference, nominalPrompt: number): SloSpec {
  const f = typeof k === 'number' ? { ttft: k, tpot: k } : k;
  const ttftAlone = interpolator(ref.ttft);
  const targetsFor = (promptTokens: number): SloTargets => ({ ttftMs: f.ttft * ttftAlone(promptTokens), tpotMs: f.tpot * ref.tpotMs });
  const nominal = targetsFor(nominalPrompt);
  const factors = f.ttft === f.tpot ? `${fmt(f.tpot)}x` : `TTFT ${fmt(f.ttft)}x, TPOT ${fmt(f.tpot)}x`;
  return {
    label: `${factors} uncontended (TTFT ${fmt(nominal.ttftMs)} ms at ${nominalPrompt} prompt tokens / TPOT ${fmt(nominal.tpotMs)} ms)`,
    targetsFor,
    nominal,
    scaled: (s) => slowdownSlo({ ttft: f.ttft * s, tpot: f.tpot * s }, ref, nominalPrompt),
  };
}

/** A plain SloTargets is a fixed spec. */
export function asSpec(slo: SloTargets | SloSpec): SloSpec {
  return 'targetsFor' in slo ? slo : fixedSlo(slo);
}

/** True when the record's request met both of its targets. */
export function meetsSpec(record: RequestTimingRecord, spec: SloSpec): boolean {
  return meetsSlo(requestMetrics(record), spec.targetsFor(record.promptTokens));
}

/** Piecewise-linear TTFT(prompt length), non-decreasing; proportional to length outside the points. */
function interpolator(points: UncontendedReference['ttft']): (n: number) => number {
  if (points.length === 0) throw new RangeError('an uncontended reference needs at least one TTFT point');
  const p = [...points].sort((a, b) => a.promptTokens - b.promptTokens);
  // NOTE: running maximum, so a noisy shorter-is-slower pair cannot make a longer prompt's target tighter.
  for (let i = 1; i < p.length; i++) p[i] = { ...p[i], ttftMs: Math.max(p[i].ttftMs, p[i - 1].ttftMs) };
  const first = p[0];
  const last = p[p.length - 1];
  return (n) => {
    if (n <= first.promptTokens) return first.ttftMs * Math.max(0.25, n / first.promptTokens);
    if (n >= last.promptTokens) return last.ttftMs * (n / last.promptTokens);
    const j = p.findIndex((q) => q.promptTokens >= n);
    const a = p[j - 1];
    const b = p[j];
    return a.ttftMs + ((b.ttftMs - a.ttftMs) * (n - a.promptTokens)) / (b.promptTokens - a.promptTokens);
  };
}

function fmt(x: number): string {
  return Number(x.toPrecision(3)).toString();
}
