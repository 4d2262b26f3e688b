/**
 * Admission check: how good the engine's SLO-aware early rejection is. The same arrivals run on
 * two engines of the same layout, one with rejection on (the engine knows the SLO) and one with it
 * off; a rejected request's fate is read in the run without rejection: if it missed its SLO
 * there too, the rejection was right (it spared the engine work that would not have counted).
 * Precision = right rejections / rejections. Goodput with rejection on must be at least goodput
 * with it off; otherwise admission caps goodput instead of protecting it.
 *
 * Invariants: requests are matched by their workload index; everything is scored against the
 * targets the engine was given (fixed targets: admission knows no per-request targets).
 */
import type { SloTargets } from '@baton/engine';
import { goodputOf } from './goodput.js';
import { attainment, type RunResult } from './runner.js';
import { meetsSpec, fixedSlo } from './slo-spec.js';

/** One rate's comparison. */
export interface AdmissionRate {
  rate: number;
  requests: number;
  rejected: number;
  /** Rejected requests that missed the SLO in the run without rejection. */
  rightlyRejected: number;
  /** rightlyRejected / rejected; null when nothing was rejected. */
  precision: number | null;
  /** Requests that missed the SLO without rejection and were admitted with it (missed chances). */
  missedButAdmitted: number;
  attainmentOn: number;
  attainmentOff: number;
  /** Whether either run stopped early (unsent requests then count as misses). */
  stoppedEarly: boolean;
}

/** The whole check. */
export interface AdmissionCheck {
  targets: SloTargets;
  rates: AdmissionRate[];
  goodputOn: number | null;
  goodputOff: number | null;
  /** goodputOn >= goodputOff (null goodputs count as 0). */
  ok: boolean;
}

/** Compares runs with rejection on (`on`) and off (`off`), paired by rate. */
export function checkAdmission(on: readonly RunResult[], off: readonly RunResult[], targets: SloTargets): AdmissionCheck {
  const spec = fixedSlo(targets);
  const rates: AdmissionRate[] = [];
  for (const a of on) {
    const b = off.find((r) => r.rate === a.rate);
    if (b === undefined) continue;
    const offByIndex = new Map(b.records.map((r) => [r.index, r]));
    const missedOff = (index: number): boolean => {
      const r = offByIndex.get(index);
      return r === undefined || r.outcome !== 'finished' || !meetsSpec(r, spec);
    };
    const rejected = a.records.filter((r) => r.outcome === 'rejected');
    const rightly = rejected.filter((r) => missedOff(r.index)).length;
    const missedButAdmitted = a.records.filter((r) => r.outcome !== 'rejected' && r.outcome !== 'not-sent' && missedOff(r.index)).length;
    rates.push({
      rate: a.rate, requests: a.records.length, rejected: rejected.length, rightlyRejected: rightly,
      precision: rejected.length === 0 ? null : rightly / rejected.length, missedButAdmitted,
      attainmentOn: attainment(a.records, spec), attainmentOff: attainment(b.records, spec), stoppedEarly: a.stoppedEarly || b.stoppedEarly,
    });
  }
  const goodputOn = goodputOf(rates.map((r) => ({ rate: r.rate, attainment: r.attainmentOn })));
  const goodputOff = goodputOf(rates.map((r) => ({ rate: r.rate, attainment: r.attainmentOff })));
  return { targets, rates, goodputOn, goodputOff, ok: (goodputOn ?? 0) >= (goodputOff ?? 0) };
}
