/**
 * The planner's decision, as a pure function: given TTFT and TPOT attainment over the sliding
 * window, the per-role load the scheduler sees and the last flip, flip one instance toward the
 * role that misses its SLO — or hold, saying why.
 *
 * Rules (each a reason string in the verdict):
 *  - one flip at a time: hold while any instance flips;
 *  - a role is short when its attainment is below `lowAttainment`, or its load already predicts
 *    a miss (prefill: queued prompt tokens / prefill throughput > TTFT target; decode: the slowest
 *    decode step > TPOT target, or KV more than 90% used);
 *  - an instance is taken only from a role that is not short, whose attainment is at least
 *    `highAttainment` (the gap to `lowAttainment` is the hysteresis), and that would still meet
 *    its target with one instance less (its load scaled by n / (n - 1) stays under half the target
 *    for prefill queues, 80% for decode steps) and stays within the bounds;
 *  - cooldown: no flip within `cooldownMs` of the last one, `2 * cooldownMs` for a flip back the
 *    other way (so a mix that sits between two splits does not make instances oscillate);
 *  - a flip must help: once `cooldownMs` passed and the window has enough requests, a flip that
 *    did not raise the attainment it was made for by 5 points while the donor role now misses is
 *    undone (`revert`), and the caller blocks flips that way for `4 * cooldownMs` (on a host where
 *    an extra instance brings no capacity, flipping only moves the backlog).
 */
import type { ElasticOptions } from './elastic-options.js';
import type { ElasticView, ServingRole } from './elastic-protocol.js';

/** What one decision looks at. */
export interface PlannerInput {
  nowMs: number;
  /** Share of the window's requests meeting each target; null when the window has too few. */
  ttftAttainment: number | null;
  tpotAttainment: number | null;
  view: ElasticView;
  slo: { ttftMs: number; tpotMs: number };
  /** The last flip the planner made: when, toward which role, and that role's attainment then (null: unknown). */
  lastFlip: { atMs: number; to: ServingRole; attainment: number | null } | null;
  /** Flips toward `to` are blocked until `untilMs` (a flip that way did not help). */
  blocked: { to: ServingRole; untilMs: number } | null;
  options: ElasticOptions;
}

/** Flip `instance` from one role to the other, or hold. */
export type PlannerVerdict =
  | { kind: 'flip'; instance: number; from: ServingRole; to: ServingRole; reason: string; revert: boolean }
  | { kind: 'hold'; reason: string };

/** KV use above which the decode role counts as short. */
const KV_FULL = 0.9;

/** Decides one planner step (see the file header for the rules). */
export function decideFlip(input: PlannerInput): PlannerVerdict {
  const { view, options: o, slo } = input;
  if (view.instances.some((i) => i.flippingTo !== null)) return hold('a flip is in progress');
  const undo = revertIfUseless(input);
  if (undo !== null) return undo;
  const count = (role: ServingRole): number => view.instances.filter((i) => i.role === role).length;
  const nP = count('prefill');
  const nD = count('decode');
  const queueMs = view.prefill.tokensPerSecond > 0 ? (view.prefill.queuedPromptTokens / view.prefill.tokensPerSecond) * 1000 : 0;
  const stepMs = view.decode.stepMs;
  const prefillShort = short(input.ttftAttainment, o.lowAttainment, queueMs > slo.ttftMs, `TTFT attainment`, `prefill queue ${round(queueMs)} ms > TTFT target ${slo.ttftMs} ms`);
  const decodeLoadMiss = (stepMs ?? 0) > slo.tpotMs || view.decode.kvUsage > KV_FULL;
  const decodeWhy = (stepMs ?? 0) > slo.tpotMs ? `decode step ${round(stepMs ?? 0)} ms > TPOT target ${slo.tpotMs} ms` : `decode KV ${Math.round(view.decode.kvUsage * 100)}% used`;
  const decodeShort = short(input.tpotAttainment, o.lowAttainment, decodeLoadMiss, 'TPOT attainment', decodeWhy);
  if (prefillShort !== null && decodeShort !== null) return hold(`both roles short (${prefillShort}; ${decodeShort})`);
  if (prefillShort === null && decodeShort === null) {
    return hold(input.ttftAttainment === null && input.tpotAttainment === null ? 'too few finished requests in the window, no load signal' : 'both SLOs met');
  }
  const to: ServingRole = prefillShort !== null ? 'prefill' : 'decode';
  const from: ServingRole = to === 'prefill' ? 'decode' : 'prefill';
  const why = prefillShort ?? decodeShort ?? '';
  const nFrom = from === 'prefill' ? nP : nD;
  const nTo = to === 'prefill' ? nP : nD;
  const min = from === 'prefill' ? o.minPrefill : o.minDecode;
  const max = to === 'prefill' ? o.maxPrefill : o.maxDecode;
  if (nFrom - 1 < min) return hold(`${to} short (${why}) but ${from} is at its minimum of ${min}`);
  if (nTo + 1 > max) return hold(`${to} short (${why}) but ${to} is at its maximum of ${max}`);
  const donorAttainment = from === 'prefill' ? input.ttftAttainment : input.tpotAttainment;
  if (donorAttainment !== null && donorAttainment < o.highAttainment) {
    return hold(`${to} short (${why}) but ${from} attainment ${pct(donorAttainment)} is below ${pct(o.highAttainment)}`);
  }
  const scale = nFrom / (nFrom - 1);
  if (from === 'prefill' && queueMs * scale > slo.ttftMs / 2) return hold(`${to} short (${why}) but one prefill instance less would queue ${round(queueMs * scale)} ms`);
  if (from === 'decode' && stepMs !== null && stepMs * scale > 0.8 * slo.tpotMs) return hold(`${to} short (${why}) but one decode instance less would step ${round(stepMs * scale)} ms`);
  const b = input.blocked;
  if (b !== null && b.to === to && input.nowMs < b.untilMs) return hold(`${to} short (${why}) but flips to ${to} are blocked for ${round(b.untilMs - input.nowMs)} ms more (the last one did not help)`);
  const last = input.lastFlip;
  if (last !== null) {
    const wait = last.to === to ? o.cooldownMs : 2 * o.cooldownMs;
    if (input.nowMs - last.atMs < wait) return hold(`${to} short (${why}) but cooling down (${round(input.nowMs - last.atMs)} of ${wait} ms since the last flip)`);
  }
  const donors = view.instances.filter((i) => i.role === from).map((i) => i.index);
  // NOTE: the highest-numbered donor: deterministic, and instances 0..k keep their starting role longest.
  const instance = donors[donors.length - 1];
  return { kind: 'flip', instance, from, to, reason: `${why}; ${from} has room`, revert: false };
}

/** The last flip, undone when it did not raise the attainment it was made for while its donor role now misses. */
function revertIfUseless(input: PlannerInput): PlannerVerdict | null {
  const last = input.lastFlip;
  if (last === null || last.attainment === null || input.nowMs - last.atMs < input.options.cooldownMs) return null;
  const helped = last.to === 'prefill' ? input.ttftAttainment : input.tpotAttainment;
  const donor = last.to === 'prefill' ? input.tpotAttainment : input.ttftAttainment;
  if (helped === null || donor === null || helped >= last.attainment + 0.05 || donor >= input.options.lowAttainment) return null;
  const from = last.to;
  const to: ServingRole = from === 'prefill' ? 'decode' : 'prefill';
  const min = from === 'prefill' ? input.options.minPrefill : input.options.minDecode;
  const donors = input.view.instances.filter((i) => i.role === from).map((i) => i.index);
  if (donors.length - 1 < min) return null;
  const what = from === 'prefill' ? 'TTFT' : 'TPOT';
  const reason = `the flip to ${from} did not help (${what} attainment ${pct(helped)}, was ${pct(last.attainment)}) and ${to} now misses (${pct(donor)})`;
  return { kind: 'flip', instance: donors[donors.length - 1], from, to, reason, revert: true };
}

/** Why a role is short, or null: attainment under `low`, or a load that predicts a miss. */
function short(attainment: number | null, low: number, loadMiss: boolean, what: string, loadWhy: string): string | null {
  if (attainment !== null && attainment < low) return `${what} ${pct(attainment)} < ${pct(low)}`;
  return loadMiss ? loadWhy : null;
}

function hold(reason: string): PlannerVerdict {
  return { kind: 'hold', reason };
}

function pct(x: number): string {
  return `${Math.round(x * 100)}%`;
}

function round(x: number): number {
  return Math.round(x);
}
