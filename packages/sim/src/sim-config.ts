/**
 * Simulation options: the engine's own options (mode, actor counts, KV pool, chunk size, token
 * budget, batch limit, SLO admission, queue bounds — defaults taken from the engine's
 * DEFAULT_ENGINE_OPTIONS) plus what only a simulated cluster has: how KV pools are scoped, how many
 * independent scheduler cells the cluster is made of, how the scheduler's decision time is
 * charged, and the drain deadline after the last arrival.
 *
 * Invariants of a resolved {@link SimConfig}: counts are positive integers; prefillChunkSize <=
 * tokenBudget (the engine's rule); every duration is finite and >= 0.
 */
import { DEFAULT_ENGINE_OPTIONS, type SloTargets } from '@baton/engine';
import { SimOptionsError } from './sim-errors.js';

/** Serving arrangements the simulator models (the engine's modes but `single`). */
export type SimMode = 'disaggregated' | 'colocated' | 'chunked';

/** How the scheduler's own decision time is charged. */
export type SchedulerCostMode = 'profile' | 'measured' | 'none';

/** Complete simulation options. Counts are per cell. */
export interface SimConfig {
  mode: SimMode;
  prefill: number;
  decode: number;
  colocated: number;
  kv: {
    blockSize: number;
    numBlocks: number;
    /** `shared`: one pool per cell, as one engine process has; `instance`: a pool of numBlocks per serving instance. */
    scope: 'shared' | 'instance';
  };
  prefillChunkSize: number;
  tokenBudget: number;
  maxBatch: number;
  /** SLO-aware early rejection (null: only the queue bounds reject, as in the bench's engines). */
  slo: SloTargets | null;
  queue: { maxRequests: number; maxPromptTokens: number };
  /** Independent engines (scheduler + instances) that arrivals are spread over round-robin. */
  cells: number;
  /** `profile`: the profile's fitted cost; `measured`: wall time of the policy calls as the sim makes them (not deterministic); `none`. */
  schedulerCost: SchedulerCostMode;
  /**
   * `engine`: the engine's LengthPredictor predicts every request and learns every finished one;
   * `off`: no prediction (the engine's path when its predictor does not answer in time), for
   * spans where the predictor's own cost would dominate the simulation's wall time.
   */
  lengthPrediction: 'engine' | 'off';
  /**
   * `shared`: a cell's instances are threads of one process on the profile's machine, as the
   * engine runs them, so instances computing at once slow each other (the profile's co-run
   * factors); `own`: every instance has a device of its own.
   */
  cpu: 'shared' | 'own';
  /** Unfinished requests are aborted this long after the last arrival (the bench runner's drain). */
  drainMs: number;
  /** A preempted sequence that cannot get KV back for this long, with nothing running, fails. */
  kvWaitMs: number;
}

/** Caller input: every field optional. */
export type SimConfigInput = Partial<Omit<SimConfig, 'kv' | 'queue'>> & { kv?: Partial<SimConfig['kv']>; queue?: Partial<SimConfig['queue']> };

/** Merges `input` over the engine's defaults and validates it. @throws {SimOptionsError} */
export function resolveSimConfig(input: SimConfigInput = {}): SimConfig {
  const d = DEFAULT_ENGINE_OPTIONS;
  const mode = input.mode ?? 'disaggregated';
  if (!['disaggregated', 'colocated', 'chunked'].includes(mode)) throw new SimOptionsError('mode', `must be disaggregated, colocated or chunked, got "${String(mode)}"`);
  const c: SimConfig = {
    mode,
    prefill: posInt(input.prefill ?? d.prefill, 'prefill'),
    decode: posInt(input.decode ?? d.decode, 'decode'),
    colocated: posInt(input.colocated ?? d.colocated, 'colocated'),
    kv: {
      blockSize: posInt(input.kv?.blockSize ?? d.kv.blockSize, 'kv.blockSize'),
      numBlocks: posInt(input.kv?.numBlocks ?? d.kv.numBlocks, 'kv.numBlocks'),
      scope: input.kv?.scope ?? 'shared',
    },
    prefillChunkSize: posInt(input.prefillChunkSize ?? d.prefillChunkSize, 'prefillChunkSize'),
    tokenBudget: posInt(input.tokenBudget ?? d.tokenBudget, 'tokenBudget'),
    maxBatch: posInt(input.maxBatch ?? d.maxBatch, 'maxBatch'),
    slo: input.slo ?? null,
    queue: {
      maxRequests: posInt(input.queue?.maxRequests ?? d.queue.maxRequests, 'queue.maxRequests'),
      maxPromptTokens: posInt(input.queue?.maxPromptTokens ?? d.queue.maxPromptTokens, 'queue.maxPromptTokens'),
    },
    cells: posInt(input.cells ?? 1, 'cells'),
    schedulerCost: input.schedulerCost ?? 'profile',
    lengthPrediction: input.lengthPrediction ?? 'engine',
    cpu: input.cpu ?? 'shared',
    drainMs: nonNeg(input.drainMs ?? 20_000, 'drainMs'),
    kvWaitMs: nonNeg(input.kvWaitMs ?? d.stallTimeoutMs, 'kvWaitMs'),
  };
  if (c.kv.scope !== 'shared' && c.kv.scope !== 'instance') throw new SimOptionsError('kv.scope', `must be shared or instance, got "${String(c.kv.scope)}"`);
  if (c.cpu !== 'shared' && c.cpu !== 'own') throw new SimOptionsError('cpu', `must be shared or own, got "${String(c.cpu)}"`);
  if (c.lengthPrediction !== 'engine' && c.lengthPrediction !== 'off') throw new SimOptionsError('lengthPrediction', `must be engine or off, got "${String(c.lengthPrediction)}"`);
  if (!['profile', 'measured', 'none'].includes(c.schedulerCost)) throw new SimOptionsError('schedulerCost', `must be profile, measured or none, got "${String(c.schedulerCost)}"`);
  if (c.prefillChunkSize > c.tokenBudget) throw new SimOptionsError('prefillChunkSize', `(${c.prefillChunkSize}) must not exceed tokenBudget (${c.tokenBudget})`);
  if (c.slo !== null && !(c.slo.ttftMs > 0 && c.slo.tpotMs > 0)) throw new SimOptionsError('slo', 'targets must be positive numbers');
  return c;
}

/** Serving instances of one cell. */
export function instancesPerCell(c: SimConfig): number {
  return c.mode === 'disaggregated' ? c.prefill + c.decode : c.colocated;
}

function posInt(v: number, name: string): number {
  if (!Number.isSafeInteger(v) || v < 1) throw new SimOptionsError(name, `must be a positive integer, got ${v}`);
  return v;
}

function nonNeg(v: number, name: string): number {
  if (!Number.isFinite(v) || v < 0) throw new SimOptionsError(name, `must be a finite number >= 0, got ${v}`);
  return v;
}
