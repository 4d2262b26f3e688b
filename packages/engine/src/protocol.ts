/**
 * Every message that crosses a thread inside the engine: the client inbox (main thread), the
 * scheduler, prefill, decode, colocated and length-predictor actors. Plain, cloneable data only.
 *
 * Invariants: times are ms on the process-wide clock (`performance.timeOrigin + performance.now()`,
 * see `clock.ts`), so stamps from different threads compare; errors cross as
 * `SerializedEngineError` and are rebuilt with `engineErrorFromJSON`; KV never crosses in a
 * message: a `KvTicket` names it (block ids in a shared pool, or a channel of the transfer stream).
 */
import type { ActorRef, Ask } from '@baton/actors';
import type { BlockPoolHandle, BlockPoolOptions, KvEndpointDescriptor, KvMemPoolStats, KvPoolEvent, KvTicket, KvTierCounts, PoolStats } from '@baton/kv-cache';
import type { CacheOptions, RoutingPolicy } from './engine-options.js';
import type { PromptTreeStats } from './prompt-tree.js';
import type { BackendName } from '@baton/model';
import type { SerializedEngineError } from './errors.js';
import type { FaultPlan } from './fault-plan.js';
import type { LengthPrediction, LengthPredictorStats } from './length-predictor.js';
import type { RoutingAuditStats } from './routing-audit.js';
import type { DecodeLoad, PrefillLoad } from './scheduler-policy.js';
import type { ElasticOptions, FlipPolicy } from './elastic-options.js';
import type { ElasticClientMsg, ElasticSchedulerMsg, ElasticStats, ElasticView, FlipReply, MigrationTarget, PlannerStats, ServingRole } from './elastic-protocol.js';

/** A validated request as the actors see it (no signal, no text: ids only). */
export interface WireRequest {
  id: string;
  promptIds: number[];
  maxTokens: number;
  temperature: number;
  topK: number;
  topP: number;
  seed: number;
  stopIds: number[];
  arrivalMs: number;
  /**
   * Tokens a previous attempt already streamed (0 for a fresh request). A resumed attempt's
   * `promptIds` end with them; its first new token has output index `emitted`, and sampling
   * continues the seeded stream from there.
   */
  emitted: number;
  /** The conversation the request belongs to (session routing keeps one on one prefill actor); absent when none was given. */
  session?: string;
}

/** What every model-running actor needs to load its model. */
export interface ModelSetup {
  model: string;
  backend: BackendName;
  chunkSize: number;
}

/** One generated token on its way to the client. */
export interface TokenItem {
  requestId: string;
  id: number;
  /** Position in the request's output (0 = first token). Tokens from different actors may arrive out of order. */
  index: number;
  time: number;
}

/** Why an actor ended a request (the client inbox maps abort itself). */
export type WorkerFinish = 'length' | 'stop' | 'error';

/** Messages to the main thread's client inbox. */
export type ClientMsg =
  | { type: 'tokens'; items: TokenItem[] }
  | { type: 'finished'; requestId: string; reason: WorkerFinish; time: number; error: SerializedEngineError | null; outputTokens: number }
  | { type: 'prefillStarted'; requestId: string; time: number }
  | { type: 'placed'; requestId: string; actor: string; role: 'prefill' | 'decode' | 'colocated' }
  | { type: 'kvTransfer'; requestId: string; startMs: number; endMs: number }
  /** The request was preempted and waits for KV to be recomputed (until its next token it is waiting, not stalled). */
  | { type: 'kvWait'; requestId: string };

/** Load of one serving actor as the scheduler sees it. */
export type LoadReport =
  | { kind: 'prefill'; index: number; load: PrefillLoad }
  | { kind: 'decode'; index: number; load: DecodeLoad }
  | { kind: 'colocated'; index: number; load: ColocatedLoad };

/** Load of a colocated (or chunked) actor. */
export interface ColocatedLoad {
  id: string;
  queuedRequests: number;
  queuedPromptTokens: number;
  running: number;
  tokensPerSecond: number;
  stepMs: number | null;
}

/** Plain statistics every serving actor returns to `stats`. */
export interface ServingActorStats {
  name: string;
  role: 'prefill' | 'decode' | 'colocated';
  /** What the actor is doing right now, for live progress displays. */
  activity: string;
  queueLength: number;
  running: number;
  kvBlocksUsed: number;
  /** Busy share since start (0..1). */
  utilization: number;
  steps: number;
  meanBatchSize: number | null;
  maxBatchSize: number;
  tokensProcessed: number;
  preemptions: number;
  backend: string;
  /** TensorFlow.js tensors alive in the actor's thread (flat over time: no leak). */
  tensors: number;
  /** The actor's own pool (it runs in another process), or null when it uses the engine's shared pool. */
  ownPool: PoolStats | null;
  /** OS process the actor runs in. */
  pid: number;
  /** Its cached-prefix tiers (hot, host, disk), or null when it keeps none below the pool. */
  tiers: KvMemPoolStats | null;
  /** Memory of the actor's thread, or null when the actor never answered. */
  memory: ActorMemoryStats | null;
}

/** One actor thread's memory, in bytes (its own V8 isolate; `rss` is its whole process's). */
export interface ActorMemoryStats {
  heapUsed: number;
  heapTotal: number;
  /** Memory of C++ objects bound to the isolate's JS objects (ArrayBuffers included). */
  external: number;
  arrayBuffers: number;
  /** The model's wasm-kernel memory (weights, scratch, attached KV pages); never shrinks. */
  kernelWasm: number;
  /** The tfjs-wasm backend's heap (0 on other backends); never shrinks. */
  tfjsWasm: number;
  rss: number;
}

/** Scheduler statistics. */
export interface SchedulerStats {
  accepted: number;
  rejected: number;
  /** Current scale on estimated queue time that admission learned from measured TTFTs (1 = none). */
  ttftCalibration: number;
  inFlight: number;
  /** Serving actors routed around right now (down or restarting). */
  down: string[];
  predictor: LengthPredictorStats | null;
  routing: RoutingPolicy;
  /** The global prompt tree (cached prefixes of every serving actor, from their pool events; instance 2i = prefill or colocated actor i, 2d + 1 = decode actor d). */
  promptTree: PromptTreeStats;
  /** Cached prefix tokens the routing rule credited to the actors it chose (0 for least-load and without caching), and prompt tokens routed. */
  creditedTokens: number;
  /** Cached prefixes moved between instances by Mooncake's transfer rule: transfers asked, and tokens of KV that arrived. */
  prefixTransfers: { asked: number; arrivedTokens: number };
  routedPromptTokens: number;
  /** Prefill routing: each decision's expected TTFT against the TTFT it got, summed per prefill actor and per band of measured TTFT. */
  routingAudit: RoutingAuditStats;
  /** Roles of the instances and the latest flips; null unless the engine is elastic. */
  elastic: ElasticStats | null;
}

/** Messages of the scheduler actor. */
export type SchedulerMsg =
  | Ask<{ type: 'wire' } & SchedulerWiring, void>
  /** Elastic: roles restored after a restart, spawns and retirements. */
  | ElasticSchedulerMsg
  | Ask<{ type: 'submit'; request: WireRequest }, SubmitReply>
  | { type: 'abort'; requestId: string }
  | { type: 'load'; report: LoadReport }
  | { type: 'finished'; requestId: string; outputTokens: number }
  /** A request's first token left its prefill: the measured TTFT calibrates admission estimates. */
  | { type: 'firstToken'; requestId: string; ttftMs: number }
  | { type: 'predicted'; requestId: string; prediction: LengthPrediction | null }
  /** A serving actor went down (crashed, restarting, or not answering heartbeats) or came back: route around it meanwhile. */
  | { type: 'health'; actor: string; up: boolean; reason: 'restarting' | 'unresponsive' }
  /**
   * A batch of a serving actor's pool events (cached prefixes inserted, swapped between tiers,
   * evicted), for the global prompt tree; `reset`: the actor (re)started, forget what it held.
   */
  | { type: 'cacheEvents'; site: KvSite; reset: boolean; events: KvPoolEvent[] }
  /** A transfer the scheduler asked for (`sendPrefix`) ended: `tokens` cached tokens now sit in the target's pool (0: none, it recomputes). */
  | { type: 'prefixSent'; requestId: string; tokens: number }
  /** Elastic: instance `instance` changes role to `to` (decided at `decidedMs`, engine clock). */
  | Ask<{ type: 'flip'; instance: number; to: ServingRole; reason: string; decidedMs: number }, FlipReply>
  /** A retiring decode actor handed a running sequence to decode actor `to`. */
  | { type: 'moved'; requestId: string; from: number; to: number }
  /** A retiring prefill actor gives back prompts it had not started, for another prefill actor. */
  | { type: 'requeue'; from: number; requests: WireRequest[] }
  /** A retiring actor holds nothing of its old role any more. */
  | { type: 'retired'; role: ServingRole; index: number }
  /** What the planner reads: instance roles and per-role load. */
  | Ask<{ type: 'elastic' }, ElasticView>
  | Ask<{ type: 'stats' }, SchedulerStats>;

/** Where a serving actor's cached prefixes live, as the scheduler's prompt tree knows it. */
export interface KvSite {
  role: 'prefill' | 'decode' | 'colocated';
  index: number;
  /** Pool identity: actors with equal ids share one pool (each one's hot blocks are the others'). */
  poolId: string;
  /** Where cached prefixes can be transferred into its pool (null: nowhere). */
  endpoint: KvEndpointDescriptor | null;
}

/** Transfer-with-insert of the cached prefix of `promptIds` (full blocks found in the sender's tiers) into the pool behind `to`. */
export interface SendPrefixMsg {
  type: 'sendPrefix';
  requestId: string;
  promptIds: number[];
  to: KvEndpointDescriptor;
}

/** The scheduler's answer to a submit. */
export type SubmitReply = { accepted: true } | { accepted: false; error: SerializedEngineError };

/** Drops every unreferenced cached block of the actor's pool and tiers (`engine.dropCaches`); answers what went. */
export type DropCachesMsg = Ask<{ type: 'dropCaches' }, CachesDropped>;

/** What one serving actor dropped: blocks per tier (the hot count is its pool's, which actors on threads share). */
export interface CachesDropped {
  actor: string;
  dropped: KvTierCounts;
}

/** Messages of a prefill actor. */
export type PrefillMsg =
  /** `awaitsPrefix`: a cached prefix is being transferred here for it (prefixArrived or a timeout ends the wait). */
  | { type: 'prefill'; request: WireRequest; awaitsPrefix: boolean }
  | { type: 'prefixArrived'; requestId: string }
  | SendPrefixMsg
  /** The decode choice (it may arrive before, during or after the prefill). */
  | { type: 'assignDecode'; requestId: string; decode: number }
  /** Every decode actor, by index (a cluster grew, or this actor restarted): later ones are added. */
  | Ask<{ type: 'decoders'; decoders: ActorRef<DecodeMsg>[] }, void>
  | { type: 'abort'; requestId: string }
  /** Elastic: stop serving prefill (finish or give back the queue, by policy), then say `retired`. */
  | { type: 'retire'; policy: FlipPolicy }
  /** Elastic: serve prefill again. */
  | { type: 'activate' }
  | { type: 'step' }
  | DropCachesMsg
  | Ask<{ type: 'stats' }, ServingActorStats>;

/** Messages of a decode actor. */
export type DecodeMsg =
  /**
   * `returnTo`: the prefill pool the finished sequence's KV goes back to (transfer-with-insert), null when it shares this pool.
   * `streamTo`: the token of the KV endpoint a stream ticket's channel was opened toward (null for a shared pool): a
   * sender's route learned from an earlier incarnation of this actor names an endpoint that is no longer this one's.
   */
  | { type: 'incoming'; request: WireRequest; ticket: KvTicket; returnTo: KvEndpointDescriptor | null; streamTo: string | null }
  | SendPrefixMsg
  /** How a prefill actor reaches this actor's KV pool. */
  | Ask<{ type: 'kvRoute' }, DecodeKvRoute>
  | { type: 'prefilled'; requestId: string; firstToken: number; finished: boolean; time: number }
  | { type: 'prefillFailed'; requestId: string }
  /** A prefill actor sharing this actor's pool has waited too long for `blocks` free blocks: preempt to make room. */
  | { type: 'reclaim'; blocks: number }
  | { type: 'abort'; requestId: string }
  /**
   * Elastic: stop serving decode. `handover`: running sequences move to `targets` (indices into
   * `decoders`) over the KV handoff; `drain`: they finish here. Then say `retired`.
   */
  | { type: 'retire'; policy: FlipPolicy; decoders: ActorRef<DecodeMsg>[]; targets: MigrationTarget[] }
  /** Elastic: serve decode again. */
  | { type: 'activate' }
  | { type: 'step' }
  | DropCachesMsg
  | Ask<{ type: 'stats' }, ServingActorStats>;

/**
 * Where a decode actor's KV lives: prefill actors whose pool has the same `poolId` hand over block
 * ids in it; others stream to `endpoint` (null when no prefill actor needs one).
 */
export interface DecodeKvRoute {
  poolId: string;
  endpoint: KvEndpointDescriptor | null;
}

/** Messages of a colocated (or chunked) actor. */
export type ColocatedMsg =
  | { type: 'submit'; request: WireRequest }
  | { type: 'abort'; requestId: string }
  | { type: 'step' }
  | DropCachesMsg
  | Ask<{ type: 'stats' }, ServingActorStats>;

/** Messages of the length-predictor actor. */
export type PredictorMsg =
  | Ask<{ type: 'predict'; promptIds: number[] }, LengthPrediction>
  | { type: 'learn'; promptIds: number[]; outputTokens: number }
  | Ask<{ type: 'stats' }, LengthPredictorStats>;

/** Tuning shared by the serving actors. */
export interface ServingLimits {
  maxBatch: number;
  tokenBudget: number;
  handoffTimeoutMs: number;
}

/**
 * Where an actor's KV pool comes from: the engine's pool shared by every thread of the engine's
 * process (`shared`), or a pool of its own created where the actor runs (`own`: an actor in
 * another process, which cannot share memory with the engine).
 */
export type PoolSource = { kind: 'shared'; handle: BlockPoolHandle } | { kind: 'own'; options: BlockPoolOptions };

/**
 * How crash rules remember that they fired, so each fires once per engine across restarts:
 * flags in shared memory (actors in the engine's process) or marker files created exclusively
 * in a directory (actors in other processes); `none` without crash rules.
 */
export type FaultFlags = { kind: 'none' } | { kind: 'memory'; flags: SharedArrayBuffer } | { kind: 'files'; dir: string };

/** Init every model-running actor (prefill, decode, colocated) receives. */
export interface ServingInit {
  index: number;
  /** This actor's owner id in the pool: every block reference it takes is counted against it, so the engine can reclaim them if it dies. */
  owner: number;
  setup: ModelSetup;
  pool: PoolSource;
  /** Identity of the pool (equal for every actor attached to the engine's shared pool). */
  poolId: string;
  limits: ServingLimits;
  faults: FaultPlan;
  /** One flag per crash rule, shared by every actor and incarnation (a rule fires once). */
  faultFlags: FaultFlags;
  /** OS nice value this actor's thread sets on start (engine option prefillNice); null leaves it. */
  threadNice: number | null;
  client: ActorRef<ClientMsg>;
  scheduler: ActorRef<SchedulerMsg>;
  /** Context caching: prefix reuse, host and disk tiers. */
  cache: CacheOptions;
  /** Actors of one thread or process with the same key share one loaded model (an elastic instance's prefill and decode actors). */
  modelKey: string;
  /** Where the actor's KV endpoint (if it has one) listens and what it advertises (set by a cluster worker; default loopback). */
  kvListen?: KvListen;
}

/** Init of a prefill actor: it hands sequences to these decode actors. */
export interface PrefillInit extends ServingInit {
  decoders: ActorRef<DecodeMsg>[];
}

/** Init of a decode actor. */
export interface DecodeInit extends ServingInit {
  /** Listen for KV streams (some prefill actor does not share this actor's pool). */
  kvEndpoint: boolean;
}

/** The interface a serving actor's KV endpoint listens on, and the host its descriptor names (null: the listen host). */
export interface KvListen {
  host: string;
  advertiseHost: string | null;
}

/** Init of a colocated actor: `chunked` mixes prefill chunks into decode steps (Sarathi-Serve). */
export interface ColocatedInit extends ServingInit {
  chunked: boolean;
}

/** Refs the scheduler routes to, sent once after every actor is spawned (they need its ref first). */
export interface SchedulerWiring {
  prefill: ActorRef<PrefillMsg>[];
  decode: ActorRef<DecodeMsg>[];
  colocated: ActorRef<ColocatedMsg>[];
  predictor: ActorRef<PredictorMsg> | null;
}

/** Init of the scheduler actor. */
export interface SchedulerInit {
  /** The engine's shared pool when the prefill actors use it (prefix credit is read from it); null when they run elsewhere. */
  pool: BlockPoolHandle | null;
  /** Blocks in each decode actor's pool (its free share is reported in load reports). */
  totalKvBlocks: number;
  /** Told where each request is placed, so the engine can recover it if that actor dies. */
  client: ActorRef<ClientMsg>;
  admission: {
    slo: { ttftMs: number; tpotMs: number } | null;
    maxQueuedRequests: number;
    maxQueuedPromptTokens: number;
  };
  blockSize: number;
  maxBatch: number;
  /** Prior prefill throughput (tokens/s) before anything is measured. */
  priorTokensPerSecond: number;
  routing: RoutingPolicy;
  /** Prefix reuse is on (off: routing credits no cached prefix). */
  cacheEnabled: boolean;
  /** Elastic instances: the role each starts in, the bounds, and the engine's inbox for the role table, spawns and retirements; null when roles are fixed. */
  elastic: { roles: ServingRole[]; options: ElasticOptions; host: ActorRef<ElasticClientMsg> } | null;
}

/** Messages of the planner actor. */
export type PlannerMsg =
  /** A finished request's measured TTFT and TPOT (null with one output token), engine clock. */
  | { type: 'observe'; timeMs: number; ttftMs: number; tpotMs: number | null }
  /** A request refused at admission because the estimate of `slo` broke its target: a miss of that SLO. */
  | { type: 'refused'; timeMs: number; slo: 'ttft' | 'tpot' }
  | { type: 'tick' }
  | Ask<{ type: 'stats' }, PlannerStats>;

/** Init of the planner actor. */
export interface PlannerInit {
  scheduler: ActorRef<SchedulerMsg>;
  options: ElasticOptions;
  slo: { ttftMs: number; tpotMs: number };
}

