/**
 * Step-time profiles: what `baton profile` measures on a machine and the simulator reads — prefill
 * time by chunk length and the context already cached before it, decode step time by batch size
 * and context, the KV handoff's per-token load time, the message hop between threads and the
 * scheduler's own decision time, the slowdown of a model call beside another busy model thread, and
 * what the engine's own machinery adds around the model calls (measured on a real engine).
 *
 * Invariants of a parsed {@link Profile}: every duration is finite and >= 0; prefill points are at
 * least two distinct chunk lengths at prefix 0; decode points form a full grid (every batch size at
 * every context); no unknown format version.
 */
import { readFileSync } from 'node:fs';
import type { EngineOverhead, OverheadPoint } from './engine-overhead.js';
import { ProfileError } from './sim-errors.js';

/** The format tag every profile carries. */
export const PROFILE_FORMAT = 'baton-profile/1';

/** One measured prefill call: `tokens` new tokens after `prefix` cached ones. */
export interface PrefillPoint {
  tokens: number;
  prefix: number;
  ms: number;
}

/** One measured decode step: `batch` sequences, each at `context` tokens. */
export interface DecodePoint {
  batch: number;
  context: number;
  ms: number;
}

/** The scheduler's measured decision time: `baseUs + perInstanceUs × instances` per request. */
export interface SchedulerCost {
  baseUs: number;
  perInstanceUs: number;
}

/**
 * How much longer a model call takes while one other model thread of the engine is busy beside it
 * on the same machine (shared cores, caches, memory bandwidth): prefill calls beside a decoding
 * neighbour, decode steps beside a prefilling one. 1 = no slowdown.
 */
export interface CoRun {
  prefillFactor: number;
  decodeFactor: number;
}

/** A machine's measured step times for one model and backend. */
export interface Profile {
  format: typeof PROFILE_FORMAT;
  model: string;
  /** Layers, width, heads (what the step times depend on). */
  shape: { nLayer: number; nEmbd: number; nHead: number; vocabSize: number; nPositions: number };
  backend: string;
  machine: { cpu: string; cores: number; node: string };
  /** ISO date of the measurement. */
  date: string;
  prefill: PrefillPoint[];
  decode: DecodePoint[];
  /** KV handoff: loading a handed-off sequence's layers on the decode side. */
  transfer: { fixedMs: number; msPerToken: number };
  /** One message between two threads (half a round trip), ms. */
  hopMs: number;
  /**
   * What an actor's step costs besides the model call: the event-loop turn before it, the step
   * message, the token message after it, ms. Absent in profiles measured before it was (then 0).
   */
  stepOverheadMs?: number;
  /** Co-run slowdown on this machine; absent in profiles measured before it was (then none). */
  coRun?: CoRun;
  scheduler: SchedulerCost;
  /**
   * What the engine's machinery adds around the model calls, measured end to end on a real engine
   * (absent in profiles measured before it was, and for models the engine cannot load by name).
   */
  engine?: EngineOverhead;
}

/** Reads and validates a profile JSON file. @throws {ProfileError} */
export function readProfile(file: string): Profile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ProfileError('(file)', `cannot read ${file}: ${(e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ProfileError('(file)', `${file} is not valid JSON (${(e as Error).message})`);
  }
  return parseProfile(json);
}

/** Validates a parsed profile object. @throws {ProfileError} naming the first bad field */
export function parseProfile(v: unknown): Profile {
  const o = obj(v, '(root)');
  if (o.format !== PROFILE_FORMAT) throw new ProfileError('format', `must be "${PROFILE_FORMAT}", got ${JSON.stringify(o.format)}`);
  const shape = obj(o.shape, 'shape');
  const machine = obj(o.machine, 'machine');
  const transfer = obj(o.transfer, 'transfer');
  const scheduler = obj(o.scheduler, 'scheduler');
  const p: Profile = {
    format: PROFILE_FORMAT,
    model: str(o.model, 'model'),
    shape: {
      nLayer: posInt(shape.nLayer, 'shape.nLayer'),
      nEmbd: posInt(shape.nEmbd, 'shape.nEmbd'),
      nHead: posInt(shape.nHead, 'shape.nHead'),
      vocabSize: posInt(shape.vocabSize, 'shape.vocabSize'),
      nPositions: posInt(shape.nPositions, 'shape.nPositions'),
    },
    backend: str(o.backend, 'backend'),
    machine: { cpu: str(machine.cpu, 'machine.cpu'), cores: posInt(machine.cores, 'machine.cores'), node: str(machine.node, 'machine.node') },
    date: str(o.date, 'date'),
    prefill: arr(o.prefill, 'prefill').map((x, i) => {
      const q = obj(x, `prefill[${i}]`);
      return { tokens: posInt(q.tokens, `prefill[${i}].tokens`), prefix: nonNegInt(q.prefix, `prefill[${i}].prefix`), ms: nonNeg(q.ms, `prefill[${i}].ms`) };
    }),
    decode: arr(o.decode, 'decode').map((x, i) => {
      const q = obj(x, `decode[${i}]`);
      return { batch: posInt(q.batch, `decode[${i}].batch`), context: posInt(q.context, `decode[${i}].context`), ms: nonNeg(q.ms, `decode[${i}].ms`) };
    }),
    transfer: { fixedMs: nonNeg(transfer.fixedMs, 'transfer.fixedMs'), msPerToken: nonNeg(transfer.msPerToken, 'transfer.msPerToken') },
    hopMs: nonNeg(o.hopMs, 'hopMs'),
    ...(o.stepOverheadMs === undefined ? {} : { stepOverheadMs: nonNeg(o.stepOverheadMs, 'stepOverheadMs') }),
    ...(o.coRun === undefined ? {} : { coRun: coRun(o.coRun) }),
    ...(o.engine === undefined ? {} : { engine: engineOverhead(o.engine) }),
    scheduler: { baseUs: nonNeg(scheduler.baseUs, 'scheduler.baseUs'), perInstanceUs: nonNeg(scheduler.perInstanceUs, 'scheduler.perInstanceUs') },
  };
  if (new Set(p.prefill.filter((q) => q.prefix === 0).map((q) => q.tokens)).size < 2) {
    throw new ProfileError('prefill', 'needs points at prefix 0 for at least two chunk lengths');
  }
  const batches = [...new Set(p.decode.map((d) => d.batch))];
  const contexts = [...new Set(p.decode.map((d) => d.context))];
  if (batches.length < 2) throw new ProfileError('decode', 'needs at least two batch sizes');
  for (const b of batches) {
    for (const c of contexts) {
      if (!p.decode.some((d) => d.batch === b && d.context === c)) throw new ProfileError('decode', `grid is missing batch ${b} at context ${c}`);
    }
  }
  return p;
}

type Obj = Record<string, unknown>;

function coRun(v: unknown): CoRun {
  const c = obj(v, 'coRun');
  const f = (x: unknown, field: string): number => {
    const n = nonNeg(x, field);
    if (n < 1) throw new ProfileError(field, `must be >= 1 (a slowdown), got ${n}`);
    return n;
  };
  return { prefillFactor: f(c.prefillFactor, 'coRun.prefillFactor'), decodeFactor: f(c.decodeFactor, 'coRun.decodeFactor') };
}

function engineOverhead(v: unknown): EngineOverhead {
  const e = obj(v, 'engine');
  const scale = (x: unknown, field: string): number => {
    const n = nonNeg(x, field);
    if (n <= 0) throw new ProfileError(field, 'must be > 0');
    return n;
  };
  const points: OverheadPoint[] = arr(e.points, 'engine.points').map((x, i) => {
    const q = obj(x, `engine.points[${i}]`);
    if (q.kind !== 'prefill' && q.kind !== 'decode') throw new ProfileError(`engine.points[${i}].kind`, `must be "prefill" or "decode", got ${JSON.stringify(q.kind)}`);
    return {
      kind: q.kind, size: posInt(q.size, `engine.points[${i}].size`), context: nonNeg(q.context, `engine.points[${i}].context`),
      modelMs: nonNeg(q.modelMs, `engine.points[${i}].modelMs`), engineMs: nonNeg(q.engineMs, `engine.points[${i}].engineMs`),
      ...(q.engineMeanMs === undefined ? {} : { engineMeanMs: nonNeg(q.engineMeanMs, `engine.points[${i}].engineMeanMs`) }),
    };
  });
  return {
    pathMs: nonNeg(e.pathMs, 'engine.pathMs'),
    prefillFixedMs: nonNeg(e.prefillFixedMs, 'engine.prefillFixedMs'),
    prefillScale: scale(e.prefillScale, 'engine.prefillScale'),
    handoffMs: nonNeg(e.handoffMs, 'engine.handoffMs'),
    decodeFixedMs: nonNeg(e.decodeFixedMs, 'engine.decodeFixedMs'),
    decodePerSeqMs: nonNeg(e.decodePerSeqMs, 'engine.decodePerSeqMs'),
    points,
  };
}

function obj(v: unknown, field: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ProfileError(field, 'must be an object');
  return v as Obj;
}

function arr(v: unknown, field: string): unknown[] {
  if (!Array.isArray(v) || v.length === 0) throw new ProfileError(field, 'must be a non-empty array');
  return v;
}

function str(v: unknown, field: string): string {
  if (typeof v !== 'string' || v.length === 0) throw new ProfileError(field, `must be a non-empty string, got ${JSON.stringify(v)}`);
  return v;
}

function nonNeg(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new ProfileError(field, `must be a finite number >= 0, got ${JSON.stringify(v)}`);
  return v;
}

function posInt(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw new ProfileError(field, `must be a positive integer, got ${JSON.stringify(v)}`);
  return v;
}

function nonNegInt(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new ProfileError(field, `must be a non-negative integer, got ${JSON.stringify(v)}`);
  return v;
}
