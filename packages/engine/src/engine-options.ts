/**
 * Engine options: their defaults and `resolveOptions()`, which merges a partial, untrusted options
 * object over the defaults and validates every field.
 *
 * Invariants of a resolved {@link EngineOptions}: every count is a positive integer; every
 * duration is a positive finite number; `prefillChunkSize <= tokenBudget`; no unknown keys.
 */
import { InvalidOptionsError } from './errors.js';
import { NO_FAULTS, resolveFaults, type CrashRule, type FaultPlan } from './fault-plan.js';
import { nonEmptyString, nonNegInt, oneOf, posInt, posNumber, record, rejectUnknown } from './option-checks.js';
import { defaultElastic, resolveElastic, type ElasticOptions, type ElasticOptionsInput } from './elastic-options.js';

/** How the engine arranges its actors. */
export type EngineMode = 'single' | 'disaggregated' | 'colocated' | 'chunked';

/**
 * TensorFlow.js backend. `auto` picks the best one present.
 * NOTE: mirrors the model package's backend names without importing it (the engine core stays
 * free of the model); the wiring maps it.
 */
export type EngineBackend = 'auto' | 'wasm' | 'cpu' | 'webgpu' | 'tensorflow';

/** Where an actor runs: a worker thread of this process, or a forked child process. */
export type ActorPlacement = 'thread' | 'process';

/**
 * How the scheduler picks a prefill actor: `prompt-tree` (least expected TTFT, crediting the
 * cached prefix each actor holds by the global prompt tree), `session` (a hash of the request's
 * `session`, so a conversation stays on one actor; requests without one go by least load) or
 * `least-load` (least expected TTFT, no prefix credit).
 */
export type RoutingPolicy = 'prompt-tree' | 'session' | 'least-load';

/** Context caching across requests: cached prefixes and the tiers below the hot pool. */
export interface CacheOptions {
  /** Reuse cached prefix blocks (false: every prompt is prefilled in full). */
  enabled: boolean;
  /** Host-memory tier of each serving actor, in blocks (0: none; evicted blocks are dropped or go to disk). */
  hostBlocks: number;
  /** Disk tier of each serving actor: a private directory is made under this one (null: no disk tier). */
  diskDir: string | null;
  /** Most bytes of block files each serving actor's disk tier keeps. */
  diskMaxBytes: number;
  /**
   * A turn that finishes on a decode actor whose pool its prefill actor does not share sends its
   * prompt + output KV back to that prefill actor (transfer-with-insert), so the next turn reuses
   * the reply too (sharing a pool, the decode actor's cached blocks are already there).
   */
  returnFromDecode: boolean;
}

/** Placement of each engine role (scheduler and predictor are the control plane). */
export interface EnginePlacement {
  scheduler: ActorPlacement;
  prefill: ActorPlacement;
  decode: ActorPlacement;
  predictor: ActorPlacement;
  /** The colocated / chunked / single actors. */
  colocated: ActorPlacement;
}

/** Latency targets used for SLO-aware early rejection and for attainment in `summarize()`. */
export interface SloTargets {
  /** Time-to-first-token target, ms. */
  ttftMs: number;
  /** Time-per-output-token target, ms. */
  tpotMs: number;
}

/** Complete engine options (see {@link resolveOptions} for defaults). */
export interface EngineOptions {
  mode: EngineMode;
  /** Prefill actors in `disaggregated` mode (P >= 1). */
  prefill: number;
  /** Decode actors in `disaggregated` mode (D >= 1). */
  decode: number;
  /** Actors in `colocated` and `chunked` modes (N >= 1). */
  colocated: number;
  /** A built-in model name (`baton-austen`, the default, or `baton-tiny`) or a Hugging Face checkpoint directory. */
  model: string;
  backend: EngineBackend;
  kv: {
    /** Tokens per KV block. */
    blockSize: number;
    /** Blocks in the pool. */
    numBlocks: number;
  };
  /** Longest prompt piece prefilled in one step (chunked prefill). */
  prefillChunkSize: number;
  /** Tokens per batch step (prefill batching; chunked mode's mixed batches). */
  tokenBudget: number;
  /** Most sequences in one decode batch. */
  maxBatch: number;
  /** SLO targets; null disables SLO-based rejection. */
  slo: SloTargets | null;
  queue: {
    /** Requests waiting for prefill, engine-wide, before new ones are rejected. */
    maxRequests: number;
    /** Prompt tokens waiting for prefill, engine-wide, before new ones are rejected. */
    maxPromptTokens: number;
    /**
     * A request whose prefill has not started after this long (it waits for KV or behind other
     * prompts; a full KV cache) is refused with a retryable OverloadedError (HTTP 429 with
     * Retry-After) instead of waiting without bound; null: wait as long as it takes. Only an
     * attempt that has streamed nothing is refused (a resumed stream keeps its place). Default 10 000 ms.
     */
    maxWaitMs: number | null;
  };
  /** A KV handoff from prefill to decode that takes longer fails the attempt (it is retried). */
  handoffTimeoutMs: number;
  /** A request with no progress (no token, no placement) for this long is retried, or fails. */
  stallTimeoutMs: number;
  /**
   * OS nice value (0-19) of the prefill threads (disaggregated mode) and prefill processes
   * (multi-process); null (the default) leaves their priority alone. Where prefill and decode
   * share cores, a lower prefill priority lets the decode loop keep its core while a prefill runs
   * beside it, so decode TPOT does not absorb prefill work; the price is slower prefill (TTFT)
   * when other processes compete for the cores. Linux, per thread; elsewhere it changes nothing.
   */
  prefillNice: number | null;
  /**
   * Backend of the prefill side; null (the default) uses `backend`. Disaggregated mode: every
   * prefill actor. Colocated and chunked modes: the first `prefill` of the `colocated` actors, so
   * that a baseline gets the same devices as a P+D disaggregated layout (e.g. prefill on the GPU
   * and decode on CPU threads: `prefillBackend: 'webgpu', decodeBackend: 'wasm'`). Single mode:
   * unused. {@link actorBackend} resolves an actor's backend.
   */
  prefillBackend: EngineBackend | null;
  /**
   * Backend of the decode side; null (the default) uses `backend`. Disaggregated mode: every
   * decode actor. Colocated and chunked modes: the colocated actors after the first `prefill`.
   */
  decodeBackend: EngineBackend | null;
  /**
   * Where each role's actors run. `'thread'` (the default): worker threads sharing one KV pool, KV
   * handed over as block ids. `'process'`: each serving actor in a forked child process with a pool
   * of its own, KV streamed layer by layer over a socket. Accepts one placement for every role.
   */
  placement: EnginePlacement;
  /**
   * Heartbeats to every serving actor: one silent for `unhealthyAfterMs` is declared unhealthy (no
   * new work; its requests resume elsewhere after the tokens already streamed) and, still silent
   * `restartAfterMs` later, its process is killed so its supervisor starts a new one.
   */
  health: { intervalMs: number; unhealthyAfterMs: number; restartAfterMs: number };
  /** Fault injection for reliability tests (default: none). */
  faults: FaultPlan;
  /** Context caching: prefix reuse and the host and disk tiers under each actor's pool. */
  cache: CacheOptions;
  /** How prefill actors are chosen (default `prompt-tree`). */
  routing: RoutingPolicy;
  /** Elastic prefill:decode (disaggregated mode): instances that change role, and the planner. */
  elastic: ElasticOptions;
}

/** Options as a caller writes them: every field optional, nested objects partial too. */
export type EngineOptionsInput = Partial<Omit<EngineOptions, 'kv' | 'queue' | 'slo' | 'faults' | 'placement' | 'health' | 'cache' | 'elastic'>> & {
  elastic?: ElasticOptionsInput;
  cache?: Partial<CacheOptions>;
  health?: Partial<EngineOptions['health']>;
  placement?: ActorPlacement | Partial<EnginePlacement>;
  kv?: Partial<EngineOptions['kv']>;
  queue?: Partial<EngineOptions['queue']>;
  slo?: SloTargets | null;
  faults?: Partial<Omit<FaultPlan, 'crashes'>> & { crashes?: Array<Partial<CrashRule> & Pick<CrashRule, 'role'>> };
};

/** The defaults `resolveOptions({})` returns. */
export const DEFAULT_ENGINE_OPTIONS: Readonly<EngineOptions> = Object.freeze({
  mode: 'disaggregated',
  prefill: 1,
  decode: 1,
  colocated: 2,
  // NOTE: @baton/model's DEFAULT_MODEL (the trained byte-level model), named here without importing it.
  model: 'baton-austen',
  backend: 'auto',
  kv: Object.freeze({ blockSize: 16, numBlocks: 1024 }),
  prefillChunkSize: 256,
  tokenBudget: 512,
  maxBatch: 32,
  slo: null,
  queue: Object.freeze({ maxRequests: 256, maxPromptTokens: 65_536, maxWaitMs: 10_000 }),
  handoffTimeoutMs: 5_000,
  stallTimeoutMs: 60_000,
  prefillNice: null,
  prefillBackend: null,
  decodeBackend: null,
  placement: Object.freeze({ scheduler: 'thread', prefill: 'thread', decode: 'thread', predictor: 'thread', colocated: 'thread' }),
  health: Object.freeze({ intervalMs: 500, unhealthyAfterMs: 5_000, restartAfterMs: 10_000 }),
  faults: NO_FAULTS,
  cache: Object.freeze({ enabled: true, hostBlocks: 0, diskDir: null, diskMaxBytes: 1 << 30, returnFromDecode: true }),
  routing: 'prompt-tree',
  elastic: defaultElastic(1, 1),
}) as Readonly<EngineOptions>;

const MODES: readonly EngineMode[] = ['single', 'disaggregated', 'colocated', 'chunked'];
const BACKENDS: readonly EngineBackend[] = ['auto', 'wasm', 'cpu', 'webgpu', 'tensorflow'];
const TOP_KEYS = Object.keys(DEFAULT_ENGINE_OPTIONS);

/**
 * Merges `input` over {@link DEFAULT_ENGINE_OPTIONS} and validates the result.
 * @throws {InvalidOptionsError} naming the first offending option by dotted path (`kv.numBlocks`).
 */
export function resolveOptions(input: unknown = {}): EngineOptions {
  const o = record(input, 'options');
  rejectUnknown(o, TOP_KEYS, '');
  const d = DEFAULT_ENGINE_OPTIONS;
  const kv = record(o.kv ?? {}, 'kv');
  rejectUnknown(kv, ['blockSize', 'numBlocks'], 'kv.');
  const queue = record(o.queue ?? {}, 'queue');
  rejectUnknown(queue, ['maxRequests', 'maxPromptTokens', 'maxWaitMs'], 'queue.');
  const resolved: EngineOptions = {
    mode: oneOf(o.mode ?? d.mode, MODES, 'mode'),
    prefill: posInt(o.prefill ?? d.prefill, 'prefill'),
    decode: posInt(o.decode ?? d.decode, 'decode'),
    colocated: posInt(o.colocated ?? d.colocated, 'colocated'),
    model: nonEmptyString(o.model ?? d.model, 'model'),
    backend: oneOf(o.backend ?? d.backend, BACKENDS, 'backend'),
    kv: {
      blockSize: posInt(kv.blockSize ?? d.kv.blockSize, 'kv.blockSize'),
      numBlocks: posInt(kv.numBlocks ?? d.kv.numBlocks, 'kv.numBlocks'),
    },
    prefillChunkSize: posInt(o.prefillChunkSize ?? d.prefillChunkSize, 'prefillChunkSize'),
    tokenBudget: posInt(o.tokenBudget ?? d.tokenBudget, 'tokenBudget'),
    maxBatch: posInt(o.maxBatch ?? d.maxBatch, 'maxBatch'),
    slo: resolveSlo(o.slo === undefined ? d.slo : o.slo),
    queue: {
      maxRequests: posInt(queue.maxRequests ?? d.queue.maxRequests, 'queue.maxRequests'),
      maxPromptTokens: posInt(queue.maxPromptTokens ?? d.queue.maxPromptTokens, 'queue.maxPromptTokens'),
      maxWaitMs: queue.maxWaitMs === undefined ? d.queue.maxWaitMs : queue.maxWaitMs === null ? null : posNumber(queue.maxWaitMs, 'queue.maxWaitMs'),
    },
    handoffTimeoutMs: posNumber(o.handoffTimeoutMs ?? d.handoffTimeoutMs, 'handoffTimeoutMs'),
    stallTimeoutMs: posNumber(o.stallTimeoutMs ?? d.stallTimeoutMs, 'stallTimeoutMs'),
    prefillNice: niceValue(o.prefillNice === undefined ? d.prefillNice : o.prefillNice, 'prefillNice'),
    prefillBackend: o.prefillBackend === undefined || o.prefillBackend === null ? null : oneOf(o.prefillBackend, BACKENDS, 'prefillBackend'),
    decodeBackend: o.decodeBackend === undefined || o.decodeBackend === null ? null : oneOf(o.decodeBackend, BACKENDS, 'decodeBackend'),
    placement: resolvePlacement(o.placement),
    health: resolveHealth(o.health),
    faults: resolveFaults(o.faults),
    cache: resolveCache(o.cache),
    routing: oneOf(o.routing ?? d.routing, ROUTING, 'routing'),
    elastic: resolveElastic(o.elastic, posInt(o.prefill ?? d.prefill, 'prefill'), posInt(o.decode ?? d.decode, 'decode')),
  };
  if (resolved.elastic.mode !== 'fixed' && resolved.mode !== 'disaggregated') {
    throw new InvalidOptionsError('elastic.mode', `'${resolved.elastic.mode}' needs mode 'disaggregated' (got '${resolved.mode}'): only prefill and decode instances change role`);
  }
  if (resolved.elastic.mode === 'planner' && resolved.slo === null && resolved.elastic.slo === null) {
    throw new InvalidOptionsError('elastic.mode', "'planner' needs SLO targets (slo or elastic.slo: { ttftMs, tpotMs }): it flips instances to keep them");
  }
  if (resolved.prefillChunkSize > resolved.tokenBudget) {
    throw new InvalidOptionsError(
      'prefillChunkSize',
      `(${resolved.prefillChunkSize}) must not exceed tokenBudget (${resolved.tokenBudget}): a chunk must fit in one batch step`,
    );
  }
  const split = resolved.mode === 'colocated' || resolved.mode === 'chunked';
  if (split && actorBackend(resolved, 'prefill', 0) !== actorBackend(resolved, 'decode', 0) && resolved.prefill >= resolved.colocated) {
    throw new InvalidOptionsError(
      'prefill',
      `(${resolved.prefill}) must be below colocated (${resolved.colocated}) when prefillBackend and decodeBackend differ in ${resolved.mode} mode: the first \`prefill\` colocated actors run on prefillBackend, the others on decodeBackend`,
    );
  }
  return resolved;
}

/** The roles {@link actorBackend} knows. */
export type BackendRole = 'prefill' | 'decode' | 'colocated';

/**
 * The backend an actor runs on. `prefill` / `decode`: the disaggregated actors (any index: one
 * backend per role). `colocated`: colocated actor `index` in colocated or chunked mode runs on
 * prefillBackend when index < `prefill`, else on decodeBackend; in single mode on `backend`.
 * Null role backends fall back to `backend`.
 */
export function actorBackend(options: EngineOptions, role: BackendRole, index: number): EngineBackend {
  const prefill = options.prefillBackend ?? options.backend;
  const decode = options.decodeBackend ?? options.backend;
  if (role === 'prefill') return prefill;
  if (role === 'decode') return decode;
  if (options.mode === 'single') return options.backend;
  return index < options.prefill ? prefill : decode;
}

const PLACEMENTS: readonly ActorPlacement[] = ['thread', 'process'];
const ROUTING: readonly RoutingPolicy[] = ['prompt-tree', 'session', 'least-load'];

function resolveCache(value: unknown): CacheOptions {
  const d = DEFAULT_ENGINE_OPTIONS.cache;
  const c = record(value ?? {}, 'cache');
  rejectUnknown(c, ['enabled', 'hostBlocks', 'diskDir', 'diskMaxBytes', 'returnFromDecode'], 'cache.');
  const enabled = c.enabled ?? d.enabled;
  if (typeof enabled !== 'boolean') throw new InvalidOptionsError('cache.enabled', `must be a boolean, got ${typeof enabled}`);
  const returnFromDecode = c.returnFromDecode ?? d.returnFromDecode;
  if (typeof returnFromDecode !== 'boolean') throw new InvalidOptionsError('cache.returnFromDecode', `must be a boolean, got ${typeof returnFromDecode}`);
  const diskDir = c.diskDir === undefined ? d.diskDir : c.diskDir === null ? null : nonEmptyString(c.diskDir, 'cache.diskDir');
  return {
    enabled,
    hostBlocks: nonNegInt(c.hostBlocks ?? d.hostBlocks, 'cache.hostBlocks'),
    diskDir,
    diskMaxBytes: nonNegInt(c.diskMaxBytes ?? d.diskMaxBytes, 'cache.diskMaxBytes'),
    returnFromDecode,
  };
}
const ROLES = ['scheduler', 'prefill', 'decode', 'predictor', 'colocated'] as const;

function resolvePlacement(value: unknown): EnginePlacement {
  const d = DEFAULT_ENGINE_OPTIONS.placement;
  if (value === undefined) return { ...d };
  if (typeof value === 'string') {
    const all = oneOf(value, PLACEMENTS, 'placement');
    return { scheduler: all, prefill: all, decode: all, predictor: all, colocated: all };
  }
  const p = record(value, 'placement');
  rejectUnknown(p, ROLES, 'placement.');
  const pick = (role: (typeof ROLES)[number]): ActorPlacement => oneOf(p[role] ?? d[role], PLACEMENTS, `placement.${role}`);
  return { scheduler: pick('scheduler'), prefill: pick('prefill'), decode: pick('decode'), predictor: pick('predictor'), colocated: pick('colocated') };
}

function resolveHealth(value: unknown): EngineOptions['health'] {
  const d = DEFAULT_ENGINE_OPTIONS.health;
  const h = record(value ?? {}, 'health');
  rejectUnknown(h, ['intervalMs', 'unhealthyAfterMs', 'restartAfterMs'], 'health.');
  const resolved = {
    intervalMs: posNumber(h.intervalMs ?? d.intervalMs, 'health.intervalMs'),
    unhealthyAfterMs: posNumber(h.unhealthyAfterMs ?? d.unhealthyAfterMs, 'health.unhealthyAfterMs'),
    restartAfterMs: posNumber(h.restartAfterMs ?? d.restartAfterMs, 'health.restartAfterMs'),
  };
  if (resolved.unhealthyAfterMs < resolved.intervalMs) {
    throw new InvalidOptionsError('health.unhealthyAfterMs', `(${resolved.unhealthyAfterMs}) must be at least health.intervalMs (${resolved.intervalMs})`);
  }
  return resolved;
}

function niceValue(value: unknown, name: string): number | null {
  if (value === null) return null;
  const n = nonNegInt(value, name);
  if (n > 19) throw new InvalidOptionsError(name, `must be an integer in [0, 19] (a lower OS priority) or null, got ${n}`);
  return n;
}

function resolveSlo(value: unknown): SloTargets | null {
  if (value === null) return null;
  const s = record(value, 'slo');
  rejectUnknown(s, ['ttftMs', 'tpotMs'], 'slo.');
  return { ttftMs: posNumber(s.ttftMs, 'slo.ttftMs'), tpotMs: posNumber(s.tpotMs, 'slo.tpotMs') };
}
