/**
 * The elastic bench's workloads: phases of one seeded request stream whose mix shifts — a
 * prefill-heavy phase (the `summarize` mix: long prompts, short outputs), a decode-heavy phase
 * (the `generate` mix: short prompts, long outputs), and back — each at its own Poisson rate.
 *
 * Invariants: the same phases and seed always give the same requests; a phase's requests are the
 * same whether it runs alone or inside the shifting sequence (its seed depends on its mix and its
 * position among phases of that mix, not on what runs before it); indices are 0.. in arrival order.
 */
import { WorkloadError } from './bench-errors.js';
import { atRate, generateWorkload, type BenchRequest } from './workload.js';

/** The two mixes the bench shifts between. */
export type PhaseKind = 'prefill-heavy' | 'decode-heavy';

/** One phase: a mix at a rate for a duration. */
export interface Phase {
  kind: PhaseKind;
  /** Requests per second (Poisson). */
  rate: number;
  durationMs: number;
  /** Which occurrence of this kind it is (0 for the first), so a repeated phase draws new requests. */
  occurrence: number;
}

/** A phased request stream. */
export interface PhasedWorkload {
  requests: BenchRequest[];
  /** Phase index of each request. */
  phaseOf: number[];
  /** Start of each phase, ms from the start of the run. */
  startsMs: number[];
  totalMs: number;
}

const MIX: Record<PhaseKind, 'summarize' | 'generate'> = { 'prefill-heavy': 'summarize', 'decode-heavy': 'generate' };

/** Builds the stream of `phases` back to back. */
export function phasedWorkload(phases: readonly Phase[], seed: number): PhasedWorkload {
  if (phases.length === 0) throw new WorkloadError('phases', 'at least one phase is needed');
  const requests: BenchRequest[] = [];
  const phaseOf: number[] = [];
  const startsMs: number[] = [];
  let t = 0;
  phases.forEach((p, k) => {
    if (!(p.rate > 0 && Number.isFinite(p.rate))) throw new WorkloadError('rate', `phase ${k}: must be a positive number, got ${p.rate}`);
    if (!(p.durationMs > 0 && Number.isFinite(p.durationMs))) throw new WorkloadError('durationMs', `phase ${k}: must be a positive number, got ${p.durationMs}`);
    startsMs.push(t);
    // NOTE: enough requests that the Poisson stream surely outlasts the phase, then cut at its end.
    const count = Math.ceil(p.rate * (p.durationMs / 1000) * 1.5) + 10;
    const mixSeed = seed * 7919 + (p.kind === 'prefill-heavy' ? 0 : 104_729) + p.occurrence * 15_485_863;
    const w = generateWorkload({ mix: MIX[p.kind], count, seed: mixSeed >>> 0 });
    for (const r of atRate(w, p.rate)) {
      if (r.arrivalMs >= p.durationMs) break;
      requests.push({ ...r, index: requests.length, arrivalMs: t + r.arrivalMs });
      phaseOf.push(k);
    }
    t += p.durationMs;
  });
  return { requests, phaseOf, startsMs, totalMs: t };
}

/** The shifting sequence: prefill-heavy, decode-heavy, prefill-heavy again, each `durationMs` long. */
export function shiftingPhases(rates: Record<PhaseKind, number>, durationMs: number): Phase[] {
  return [
    { kind: 'prefill-heavy', rate: rates['prefill-heavy'], durationMs, occurrence: 0 },
    { kind: 'decode-heavy', rate: rates['decode-heavy'], durationMs, occurrence: 0 },
    { kind: 'prefill-heavy', rate: rates['prefill-heavy'], durationMs, occurrence: 1 },
  ];
}
