/**
 * The planner's decision, as a pure function: given TTFT and TPOT attainment over the sliding
 * window, the per-role load the scheduler sees and the last change, flip one instance toward the
 * role that is short, spawn one for it when no instance can be spared, retire spawned capacity
 * once both roles have room — or hold, saying why.
 *
 * Rules (each a reason string in the verdict):
 *  - one change at a time: hold while any instance flips, retires or is being spawned;
 *  - a role is short only when one more instance of it would help. Prefill: its queue already
 *    predicts misses (queued prompt tokens / prefill throughput > half the TTFT target), or TTFT
 *    attainment is below `lowAttainment` while prompts queue (at least one per prefill instance).
 *    Decode: its KV is more than 90% used, or TPOT misses (attainment below `lowAttainment`, or the
 *    slowest step over the target) while each decode instance carries at least MIN_SPLIT_BATCH
 *    sequences. NOTE: a TTFT miss with no prompt queued, or a slow decode step at a small batch,
 *    is not a shortage of that role (on a shared host it is the other role's work taking the
 *    CPU): flipping toward it takes capacity from the role that is working and moves the backlog;
 *  - an instance is taken only from a role that is not short, whose attainment is at least
 *    `highAttainment` (the gap to `lowAttainment` is the hysteresis; misses count only where they
 *    are the role's own: prompts queued, or at least MIN_SPLIT_BATCH sequences per decode
 *    instance), and that would still meet
 *    its target with one instance less (its load scaled by n / (n - 1): the prefill queue under a
 *    quarter of the TTFT target, the decode step under 80% of the TPOT target — not scaled while
 *    the batch per decode instance would stay under MIN_SPLIT_BATCH, where a step is mostly its
 *    fixed cost) and stays within the bounds;
 *  - when no instance can be taken and `elastic.maxInstances` leaves room (and the short role is
 *    under its maximum), an instance is spawned for it — also when both roles are short (for the
 *    one under more pressure: prefill queue / TTFT target against decode step / TPOT target);
 *  - an instance above the starting count is retired once no attainment is below
 *    `highAttainment` (an idle window counts as met), a role could spare one (as above) and
 *    nothing changed for `4 * cooldownMs` (the highest-numbered instance of that role: a spawned one);
 *  - cooldown: no change within `cooldownMs` of the last one, `2 * cooldownMs` for a flip back
 *    the other way (so a mix that sits between two splits does not make instances oscillate);
 *  - a flip must help: once `cooldownMs` passed and the window has enough requests, a flip that
 *    did not raise the attainment it was made for by 5 points while the donor role now misses and
 *    is short (and the role it went to is not) is undone (`revert`), and the caller blocks flips
 *    that way for `4 * cooldownMs`.
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
  /** The last change the planner made: when, toward which role, and that role's attainment then (null: unknown, or not a flip). */
  lastFlip: { atMs: number; to: ServingRole; attainment: number | null } | null;
  /** Flips toward `to` are blocked until `untilMs` (a flip that way did not help). */
  blocked: { to: ServingRole; untilMs: number } | null;
  options: ElasticOptions;
}

/** Flip `instance` from one role to the other, spawn an instance of `role`, retire `instance`, or hold. */
export type PlannerVerdict =
  | { kind: 'flip'; instance: number; from: ServingRole; to: ServingRole; reason: string; revert: boolean }
  | { kind: 'spawn'; role: ServingRole; reason: string }
  | { kind: 'retire'; instance: number; from: ServingRole; reason: string }
  | { kind: 'hold'; reason: string };

/** KV use above which the decode role counts as short. */
const KV_FULL = 0.9;
/** Sequences per decode instance below which a slow step is not the batch's doing (another decode instance would not shorten it). */
export const MIN_SPLIT_BATCH = 4;
/** Share of the TTFT target the prefill queue may take before the role is short, and what a donor may reach with one instance less. */
const QUEUE_SHORT = 0.5;
const QUEUE_SPARE = 0.25;
/** Share of the TPOT target the slowest decode step may reach with one decode instance less. */
const STEP_SPARE = 0.8;

/** The load each rule reads, computed once per decision. */
interface Load {
  nP: number;
  nD: number;
  queueMs: number;
  stepMs: number | null;
  /** Sequences (running and queued) per serving decode instance. */
  batchPer: number;
}

/** Decides one planner step (see the file header for the rules). */
export function decideFlip(input: PlannerInput): PlannerVerdict {
  const { view } = input;
  if (view.instances.some((i) => i.flippingTo !== null || i.retiring) || view.spawning > 0) return hold('a change is in progress');
  const load = loadOf(view);
  const prefillShort = prefillShortage(input, load);
  const decodeShort = decodeShortage(input, load);
  const undo = revertIfUseless(input, { prefill: prefillShort, decode: decodeShort });
  if (undo !== null) return undo;
  if (prefillShort !== null && decodeShort !== null) {
    const pressureP = load.queueMs / input.slo.ttftMs;
    const pressureD = (load.stepMs ?? 0) / input.slo.tpotMs;
    const role: ServingRole = pressureP >= pressureD ? 'prefill' : 'decode';
    return spawnOr(input, load, role, `both roles short (${prefillShort}; ${decodeShort})`);
  }
  if (prefillShort === null && decodeShort === null) return retireOrHold(input, load);
  const to: ServingRole = prefillShort !== null ? 'prefill' : 'decode';
  const from: ServingRole = to === 'prefill' ? 'decode' : 'prefill';
  const why = prefillShort ?? decodeShort ?? '';
  const cannot = cannotSpare(input, load, from) ?? cannotReceive(input, load, to);
  if (cannot !== null) return spawnOr(input, load, to, `${to} short (${why}) but ${cannot}`);
  const b = input.blocked;
  if (b !== null && b.to === to && input.nowMs < b.untilMs) return hold(`${to} short (${why}) but flips to ${to} are blocked for ${round(b.untilMs - input.nowMs)} ms more (the last one did not help)`);
  const cooling = coolingDown(input, to);
  if (cooling !== null) return hold(`${to} short (${why}) but ${cooling}`);
  const donors = view.instances.filter((i) => i.role === from).map((i) => i.index);
  // NOTE: the highest-numbered donor: deterministic, and instances 0..k keep their starting role longest.
  return { kind: 'flip', instance: donors[donors.length - 1], from, to, reason: `${why}; ${from} has room`, revert: false };
}

function loadOf(view: ElasticView): Load {
  const count = (role: ServingRole): number => view.instances.filter((i) => i.role === role).length;
  const nP = count('prefill');
  const nD = count('decode');
  const queueMs = view.prefill.tokensPerSecond > 0 ? (view.prefill.queuedPromptTokens / view.prefill.tokensPerSecond) * 1000 : 0;
  return { nP, nD, queueMs, stepMs: view.decode.stepMs, batchPer: nD === 0 ? 0 : (view.decode.running + view.decode.queued) / nD };
}

/** Why prefill is short (one more prefill instance would help), or null. */
function prefillShortage(input: PlannerInput, load: Load): string | null {
  const { slo, options: o } = input;
  if (load.queueMs > QUEUE_SHORT * slo.ttftMs) return `prefill queue ${round(load.queueMs)} ms > ${pct(QUEUE_SHORT)} of TTFT target ${slo.ttftMs} ms`;
  const a = input.ttftAttainment;
  if (a !== null && a < o.lowAttainment && input.view.prefill.queuedRequests >= load.nP) return `TTFT attainment ${pct(a)} < ${pct(o.lowAttainment)} with ${input.view.prefill.queuedRequests} prompts queued`;
  return null;
}

/** Why decode is short (one more decode instance would help), or null. */
function decodeShortage(input: PlannerInput, load: Load): string | null {
  const { slo, options: o, view } = input;
  if (view.decode.kvUsage > KV_FULL) return `decode KV ${Math.round(view.decode.kvUsage * 100)}% used`;
  if (load.batchPer < MIN_SPLIT_BATCH) return null;
  const a = input.tpotAttainment;
  const batch = `at ${round(load.batchPer)} sequences per decode instance`;
  if (a !== null && a < o.lowAttainment) return `TPOT attainment ${pct(a)} < ${pct(o.lowAttainment)} ${batch}`;
  if (load.stepMs !== null && load.stepMs > slo.tpotMs) return `decode step ${round(load.stepMs)} ms > TPOT target ${slo.tpotMs} ms ${batch}`;
  return null;
}

/** Why `from` cannot give up an instance, or null. */
function cannotSpare(input: PlannerInput, load: Load, from: ServingRole): string | null {
  const { options: o, slo } = input;
  const n = from === 'prefill' ? load.nP : load.nD;
  const min = from === 'prefill' ? o.minPrefill : o.minDecode;
  if (n - 1 < min) return `${from} is at its minimum of ${min}`;
  const attainment = from === 'prefill' ? input.ttftAttainment : input.tpotAttainment;
  // NOTE: misses count against giving an instance up only where they are the role's own (prompts queued; a decode batch of at
  // least MIN_SPLIT_BATCH per instance), as for a shortage: a window's TTFT misses from an earlier prefill-heavy mix, with
  // nothing queued now, would otherwise hold the instance for the length of the window after the mix shifted.
  const own = from === 'prefill' ? input.view.prefill.queuedRequests > 0 : load.batchPer >= MIN_SPLIT_BATCH;
  if (attainment !== null && attainment < o.highAttainment && own) return `${from} attainment ${pct(attainment)} is below ${pct(o.highAttainment)}`;
  const scale = n / (n - 1);
  if (from === 'prefill' && load.queueMs * scale > QUEUE_SPARE * slo.ttftMs) return `one prefill instance less would queue ${round(load.queueMs * scale)} ms`;
  if (from === 'decode' && load.stepMs !== null) {
    // NOTE: a step of a small batch is mostly its fixed cost (the weights' stream), which a batch a few sequences larger does not
    // scale: below MIN_SPLIT_BATCH sequences per instance after the change the step is taken as it is now.
    const step = load.batchPer * scale < MIN_SPLIT_BATCH ? load.stepMs : load.stepMs * scale;
    if (step > STEP_SPARE * slo.tpotMs) return `one decode instance less would step ${round(step)} ms`;
  }
  return null;
}

/** Why `to` cannot take one more instance, or null. */
function cannotReceive(input: PlannerInput, load: Load, to: ServingRole): string | null {
  const max = to === 'prefill' ? input.options.maxPrefill : input.options.maxDecode;
  const n = to === 'prefill' ? load.nP : load.nD;
  return n + 1 > max ? `${to} is at its maximum of ${max}` : null;
}

/** Spawns an instance of `role` when the bounds and the cooldown allow; otherwise holds with `holdWhy` (why no flip). */
function spawnOr(input: PlannerInput, load: Load, role: ServingRole, holdWhy: string): PlannerVerdict {
  const o = input.options;
  // NOTE: without room above the starting count (the default) spawning is off and the hold says only why no flip.
  if (o.maxInstances <= input.view.baseInstances) return hold(holdWhy);
  if (input.view.instances.length + 1 > o.maxInstances) return hold(`${holdWhy}; instances at elastic.maxInstances (${o.maxInstances})`);
  const cannot = cannotReceive(input, load, role);
  if (cannot !== null) return hold(`${holdWhy}; ${cannot}`);
  const cooling = coolingDown(input, role);
  if (cooling !== null) return hold(`${holdWhy}; ${cooling}`);
  return { kind: 'spawn', role, reason: `${holdWhy}: spawn a ${role} instance` };
}

/** Both roles have room: retire spawned capacity (with hysteresis), or hold. */
function retireOrHold(input: PlannerInput, load: Load): PlannerVerdict {
  const { view, options: o } = input;
  const met = input.ttftAttainment === null && input.tpotAttainment === null ? 'too few requests in the window, no shortage in the load' : missesWithoutShortage(input, load) ?? 'both SLOs met';
  if (view.instances.length <= view.baseInstances) return hold(met);
  const a = [input.ttftAttainment, input.tpotAttainment];
  // NOTE: an attainment with too few samples is no miss: an idle engine (nothing in the window) retires what it spawned.
  if (a.some((x) => x !== null && x < o.highAttainment)) return hold(`${met}; spawned capacity kept until both attainments reach ${pct(o.highAttainment)}`);
  const calm = input.lastFlip === null ? Infinity : input.nowMs - input.lastFlip.atMs;
  if (calm < 4 * o.cooldownMs) return hold(`${met}; spawned capacity kept for ${4 * o.cooldownMs} ms after the last change (${round(calm)} ms so far)`);
  const pressure = (role: ServingRole): number => (role === 'prefill' ? load.queueMs / input.slo.ttftMs : (load.stepMs ?? 0) / input.slo.tpotMs);
  const roles = (['prefill', 'decode'] as const).filter((r) => cannotSpare(input, load, r) === null).sort((x, y) => pressure(x) - pressure(y));
  const from = roles[0];
  if (from === undefined) return hold(`${met}; neither role could spare an instance`);
  const candidates = view.instances.filter((i) => i.role === from).map((i) => i.index);
  const instance = candidates[candidates.length - 1];
  return { kind: 'retire', instance, from, reason: `${met} (TTFT ${a[0] === null ? 'idle' : pct(a[0])}, TPOT ${a[1] === null ? 'idle' : pct(a[1])}) and ${from} has room: retire instance ${instance}` };
}

/** Misses that no instance of that role would cure (see the file header), said as such; null when both SLOs are met. */
function missesWithoutShortage(input: PlannerInput, load: Load): string | null {
  const low = input.options.lowAttainment;
  const notes: string[] = [];
  const t = input.ttftAttainment;
  if (t !== null && t < low) notes.push(`TTFT attainment ${pct(t)} < ${pct(low)} with ${input.view.prefill.queuedRequests} prompts queued (not a prefill shortage)`);
  const d = input.tpotAttainment;
  if (d !== null && d < low) notes.push(`TPOT attainment ${pct(d)} < ${pct(low)} at ${round(load.batchPer)} sequences per decode instance (not a decode shortage)`);
  return notes.length === 0 ? null : notes.join('; ');
}

/** Why a change toward `to` must wait (the cooldown since the last one), or null. */
function coolingDown(input: PlannerInput, to: ServingRole): string | null {
  const last = input.lastFlip;
  if (last === null) return null;
  const wait = last.to === to ? input.options.cooldownMs : 2 * input.options.cooldownMs;
  const since = input.nowMs - last.atMs;
  return since < wait ? `cooling down (${round(since)} of ${wait} ms since the last change)` : null;
}

/**
 * The last flip, undone when it did not raise the attainment it was made for while its donor role
 * now misses and is short by the rules above, and the role it went to is not (the flip moved the
 * shortage). NOTE: with both roles short (an engine overloaded in every split) no undo: both
 * attainments sit near zero whatever the split, and an undo would only move the backlog again.
 */
function revertIfUseless(input: PlannerInput, short: Record<ServingRole, string | null>): PlannerVerdict | null {
  const last = input.lastFlip;
  if (last === null || last.attainment === null || input.nowMs - last.atMs < input.options.cooldownMs) return null;
  const helped = last.to === 'prefill' ? input.ttftAttainment : input.tpotAttainment;
  const donor = last.to === 'prefill' ? input.tpotAttainment : input.ttftAttainment;
  if (helped === null || donor === null || helped >= last.attainment + 0.05 || donor >= input.options.lowAttainment) return null;
  const from = last.to;
  const to: ServingRole = from === 'prefill' ? 'decode' : 'prefill';
  if (short[to] === null || short[from] !== null) return null;
  const min = from === 'prefill' ? input.options.minPrefill : input.options.minDecode;
  const donors = input.view.instances.filter((i) => i.role === from).map((i) => i.index);
  if (donors.length - 1 < min) return null;
  const what = from === 'prefill' ? 'TTFT' : 'TPOT';
  const reason = `the flip to ${from} did not help (${what} attainment ${pct(helped)}, was ${pct(last.attainment)}) and ${to} now misses (${pct(donor)})`;
  return { kind: 'flip', instance: donors[donors.length - 1], from, to, reason, revert: true };
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
