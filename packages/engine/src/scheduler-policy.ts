/**
 * Routing policy of the global scheduler, as pure functions over load snapshots that the actors
 * report (no I/O, no clocks, deterministic tie-breaks by actor id):
 * - `choosePrefill`: the prefill actor with the least estimated TTFT, counting what its prefix
 *   cache already holds, and moving a longer prefix cached on another instance when the transfer
 *   beats recomputing it (Mooncake's Conductor);
 * - `chooseDecode`: a decode actor by load and free KV, spreading predicted-long requests
 *   (TetriInfer), then the emptier batch, then the id; null when no actor has KV room;
 * - `estimateDecodeTpotMs`: the TPOT a decode actor would give once a request joins it.
 * Admission (SLO-aware early rejection) lives in admission.ts.
 */

/** Load a prefill actor reports. */
export interface PrefillLoad {
  id: string;
  /** Prompt tokens waiting or in progress (uncached part), not yet prefilled. */
  queuedPromptTokens: number;
  queuedRequests: number;
  /** Measured prefill throughput (EWMA; see ThroughputEstimator). Must be > 0. */
  tokensPerSecond: number;
  /**
   * The machine the actor computes on, when it may share it with other prefill actors (their
   * processes or threads compete for its cores); absent: it has compute of its own (a GPU).
   */
  machine?: SharedMachine;
}

/** A machine whose cores several actors share. */
export interface SharedMachine {
  /** Identity (actors with equal ids share the cores). */
  id: string;
  cores: number;
}

/** Load a decode actor reports. */
export interface DecodeLoad {
  id: string;
  /** Sequences in its running batch. */
  running: number;
  /** Handed-off sequences waiting to join the batch. */
  queued: number;
  freeKvBlocks: number;
  totalKvBlocks: number;
  /** Running or queued sequences predicted to be long. */
  predictedLongRunning: number;
  /** EWMA of the decode step time at the current batch size; null before the first step. */
  stepMs: number | null;
}

/** What routing needs to know of a request. */
export interface RoutableRequest {
  promptIds: readonly number[];
  maxTokens: number;
}

/** The chosen prefill actor and the TTFT estimate behind the choice. */
export interface PrefillChoice {
  actorId: string;
  cachedTokens: number;
  /** Time to drain the actor's queue. */
  queueMs: number;
  /** Time to prefill this prompt's uncached part. */
  prefillMs: number;
  /** Time to move `transfer.tokens - local cached` tokens of KV from another instance (0 without a transfer). */
  transferMs: number;
  /** queueMs + transferMs + prefillMs. */
  ttftMs: number;
  /** The longer cached prefix to move here first, or null when the actor's own cache is used. */
  transfer: { source: string; tokens: number } | null;
}

/** A cached prefix of the prompt held on another instance (a transfer source) for one candidate. */
export interface RemotePrefix {
  /** The instance holding it (named in PrefillChoice.transfer.source). */
  source: string;
  /** Leading prompt tokens it holds. */
  tokens: number;
}

/** Mooncake's transfer rule: where longer prefixes live, and how fast KV moves between instances. */
export interface TransferRule {
  /** The longest prefix of `promptIds` cached on an instance other than `actorId` (null: none). */
  remoteFor: (actorId: string, promptIds: readonly number[]) => RemotePrefix | null;
  /** KV transfer throughput between instances, tokens of KV per second. Must be > 0. */
  tokensPerSecond: number;
}

/** Length prediction as routing sees it. */
export interface DecodePrediction {
  /** Predicted to be in a long bucket (spread these across actors). */
  isLong: boolean;
  /** Expected output tokens (e.g. the predicted bucket's midpoint); capped by maxTokens here. */
  expectedOutputTokens: number;
}

/** The chosen decode actor. */
export interface DecodeChoice {
  actorId: string;
  /** KV blocks the sequence needs to join (its prompt plus the next token). */
  blocksNeeded: number;
  /** max(batch fill, expected KV fill) after joining; 1 means full. */
  pressure: number;
}

/**
 * The prefill actor with the least estimated TTFT = queue time + (prompt − cached) / throughput.
 * `cachedTokensFor(actorId, promptIds)` says how many leading prompt tokens that actor's prefix
 * cache holds. With `transfer` (Mooncake's rule), a candidate whose cached prefix is shorter than
 * one held elsewhere is also costed as queue + transfer of the difference + prefill of the rest,
 * and takes the transfer when that is less than recomputing. Returns null when `loads` is empty.
 */
export function choosePrefill(
  req: RoutableRequest,
  loads: readonly PrefillLoad[],
  cachedTokensFor: (actorId: string, promptIds: readonly number[]) => number,
  transfer: TransferRule | null = null,
): PrefillChoice | null {
  let best: PrefillChoice | null = null;
  let bestQueued = 0;
  const last = req.promptIds.length - 1;
  for (const load of [...loads].sort(byId)) {
    const rate = load.tokensPerSecond > 0 ? load.tokensPerSecond : Number.MIN_VALUE;
    // NOTE: even a full prefix hit must recompute the last prompt token to get its logits.
    const cached = clamp(Math.floor(cachedTokensFor(load.id, req.promptIds)), 0, last);
    const queueMs = (load.queuedPromptTokens / rate) * 1000;
    const prefillMs = ((req.promptIds.length - cached) / rate) * 1000;
    let c: PrefillChoice = { actorId: load.id, cachedTokens: cached, queueMs, prefillMs, transferMs: 0, ttftMs: queueMs + prefillMs, transfer: null };
    const remote = transfer?.remoteFor(load.id, req.promptIds) ?? null;
    const moved = remote === null ? 0 : clamp(Math.floor(remote.tokens), 0, last);
    if (remote !== null && transfer !== null && moved > cached) {
      const transferMs = ((moved - cached) / Math.max(transfer.tokensPerSecond, Number.MIN_VALUE)) * 1000;
      const rest = ((req.promptIds.length - moved) / rate) * 1000;
      if (transferMs + rest < prefillMs) {
        c = { actorId: load.id, cachedTokens: moved, queueMs, prefillMs: rest, transferMs, ttftMs: queueMs + transferMs + rest, transfer: { source: remote.source, tokens: moved } };
      }
    }
    if (best === null || c.ttftMs < best.ttftMs || (c.ttftMs === best.ttftMs && load.queuedRequests < bestQueued)) {
      best = c;
      bestQueued = load.queuedRequests;
    }
  }
  return best;
}

/**
 * A decode actor for the request, or null when none has the KV blocks to admit it.
 * Predicted-long requests go to the actor with the fewest predicted-long sequences among those
 * not full (TetriInfer's spreading of heavy decodes); others to the least pressure.
 */
export function chooseDecode(
  req: RoutableRequest,
  prediction: DecodePrediction | null,
  loads: readonly DecodeLoad[],
  opts: { blockSize: number; maxBatch: number },
): DecodeChoice | null {
  const promptTokens = req.promptIds.length;
  const blocksNeeded = Math.ceil((promptTokens + 1) / opts.blockSize);
  const expectedOut = Math.min(req.maxTokens, prediction?.expectedOutputTokens ?? req.maxTokens);
  const expectedBlocks = Math.ceil((promptTokens + expectedOut) / opts.blockSize);
  const candidates = loads
    .filter((l) => l.freeKvBlocks >= blocksNeeded)
    .map((l) => ({ load: l, pressure: pressureOf(l, expectedBlocks, opts.maxBatch) }));
  if (candidates.length === 0) return null;
  const spread = prediction?.isLong === true;
  candidates.sort(
    (a, b) =>
      (spread ? Number(a.pressure >= 1) - Number(b.pressure >= 1) : 0) ||
      (spread ? a.load.predictedLongRunning - b.load.predictedLongRunning : 0) ||
      a.pressure - b.pressure ||
      // NOTE: actors that share one KV pool report the same KV fill, which then sets every
      // pressure alike: the fuller batch must still lose, or one actor takes every request.
      a.load.running + a.load.queued - (b.load.running + b.load.queued) ||
      byId(a.load, b.load),
  );
  const { load, pressure } = candidates[0];
  return { actorId: load.id, blocksNeeded, pressure };
}

/**
 * The loads with each throughput divided by its {@link sharedSlowdown}: prefill actors that share
 * a machine's cores are not independent servers (with more of them computing than there are
 * cores, each computes that much slower), so a candidate's queue and prefill are stretched by
 * (actors on its machine with queued work, itself included) / cores, at least 1. Sending a prompt
 * to an idle actor beside busy ones then costs more than its empty queue says.
 */
export function sharedRate(loads: readonly PrefillLoad[]): PrefillLoad[] {
  return loads.map((l) => ({ ...l, tokensPerSecond: l.tokensPerSecond / sharedSlowdown(l, loads) }));
}

/**
 * How much slower `load` computes while the prefill actors on its machine with queued work (and
 * itself) share its cores: (that count) / cores, at least 1; 1 without a shared machine.
 * NOTE: decode actors on the machine use cores too; their share is not counted here.
 */
export function sharedSlowdown(load: PrefillLoad, loads: readonly PrefillLoad[]): number {
  const m = load.machine;
  if (m === undefined || !(m.cores > 0)) return 1;
  const busy = loads.filter((l) => l.id !== load.id && l.machine?.id === m.id && l.queuedRequests > 0).length + 1;
  return Math.max(1, busy / m.cores);
}

function pressureOf(l: DecodeLoad, expectedBlocks: number, maxBatch: number): number {
  const batchFill = (l.running + l.queued + 1) / maxBatch;
  const used = l.totalKvBlocks - l.freeKvBlocks;
  const kvFill = l.totalKvBlocks > 0 ? (used + expectedBlocks) / l.totalKvBlocks : 1;
  return Math.max(batchFill, kvFill);
}

/**
 * Estimated TPOT on `load` once `joining` more sequences join: the measured step time scaled by
 * (new batch / current batch) ^ batchElasticity. Null before the actor has measured a step.
 * NOTE: decode is memory-bound, so step time grows sublinearly with batch size; elasticity 1 is
 * the pessimistic bound, 0 assumes batching is free. The default 0.5 should be refit from the
 * step times measured at several batch sizes on the target machine.
 */
export function estimateDecodeTpotMs(
  load: DecodeLoad,
  opts: { joining?: number; batchElasticity?: number } = {},
): number | null {
  if (load.stepMs === null) return null;
  const current = Math.max(1, load.running);
  const after = load.running + load.queued + (opts.joining ?? 1);
  return load.stepMs * Math.max(1, after / current) ** (opts.batchElasticity ?? 0.5);
}

function byId(a: { id: string }, b: { id: string }): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

function clamp(v: number, lo: number, hi: number): number {
  return Number.isFinite(v) ? Math.min(hi, Math.max(lo, v)) : lo;
}
