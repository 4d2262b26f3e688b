/**
 * Public API of @baton/engine: `createEngine()` (disaggregated, colocated, chunked and single
 * modes on worker-thread actors), and the thread-free core it builds on (request validation,
 * options, errors, metrics, length prediction, scheduling policy, token streams).
 */

/** The embeddable engine. */
export { Engine, type CloseOptions } from './engine.js';
export { createEngine } from './create-engine.js';
export type { EngineStats } from './engine-stats.js';
export type { FlipRequest } from './engine-flip.js';
export type { RetireRequest, SpawnRequest } from './engine-scale.js';
export { ScaleRefusedError } from './scale-refused-error.js';
export type { DropCachesResult } from './drop-caches.js';
export type { AuditTotals, RoutingAuditStats } from './routing-audit.js';
/** Elastic prefill:decode: options, the planner's pure decision, flip records and planner stats. */
export { defaultElastic, resolveElastic } from './elastic-options.js';
export type { ElasticMode, ElasticOptions, ElasticOptionsInput, FlipPolicy } from './elastic-options.js';
export { decideFlip, type PlannerInput, type PlannerVerdict } from './planner-policy.js';
export { FlipRefusedError } from './flip-refused-error.js';
export type { ElasticStats, ElasticView, FlipRecord, InstanceState, PlannerDecision, PlannerStats, RoleTable, ScaleRecord, ServingRole } from './elastic-protocol.js';
/** What `generate()` returns. */
export type { Generation, GenerationResult } from './active-request.js';
/** Statistics shapes reported by the actors. */
export type { ActorMemoryStats, CachesDropped, SchedulerStats, ServingActorStats } from './protocol.js';
/** The events a generation yields. */

/** Typed errors with stable codes; `engineErrorFromJSON` rebuilds them after crossing a thread. */
export {
  ActorFailedError,
  EngineClosedError,
  EngineError,
  InvalidOptionsError,
  InvalidRequestError,
  KvExhaustedError,
  OverloadedError,
  RequestAbortedError,
  UnavailableError,
  engineErrorFromJSON,
  isSerializedEngineError,
} from './errors.js';
/** Error codes, the overload estimate that broke, and the plain-data form of errors. */
export type { EngineErrorCode, OverloadEstimate, SerializedEngineError } from './errors.js';

/** Validates a `generate()` request into a normalized request (or InvalidRequestError). */
export { validateRequest } from './request.js';
/** Request shapes before and after validation, and what they are validated against. */
export type { GenerateRequest, NormalizedRequest, RequestLimits, ValidateRequestDeps } from './request.js';

/** Engine options: defaults and validation (`resolveOptions`, or InvalidOptionsError). */
export { DEFAULT_ENGINE_OPTIONS, resolveOptions } from './engine-options.js';
/** Option types: complete options, caller input, modes, backends, SLO targets. */
export type { ActorPlacement, EngineBackend, EngineMode, EngineOptions, EngineOptionsInput, EnginePlacement, SloTargets, CacheOptions, RoutingPolicy } from './engine-options.js';

/** Per-request timing: the TTFT/TPOT/ITL/JCT/queue/KV-transfer derivation from a timing record. */
export { requestMetrics } from './request-timing.js';
/** Timing record, derived metrics, and finish reasons. */
export type { FinishReason, RequestMetrics, RequestTimingRecord } from './request-timing.js';

/** Prometheus-compatible fixed-bucket histogram and bucket helpers. */
export { DEFAULT_LATENCY_BUCKETS_MS, Histogram, exponentialBuckets, linearBuckets } from './histogram.js';
/** Plain-data histogram state. */
export type { HistogramSnapshot } from './histogram.js';

/** Run summaries: percentiles, means and SLO attainment over request records. */
export { distribution, meetsSlo, percentile, summarize } from './metrics.js';
/** Summary shapes. */
export type { Distribution, RunSummary } from './metrics.js';

/** Online output-length bucket classifier (TetriInfer). */
export { LengthPredictor } from './length-predictor.js';
/** Predictor buckets, predictions, options and stats. */
export type { LengthBucket, LengthPrediction, LengthPredictorOptions, LengthPredictorStats } from './length-predictor.js';

/** EWMA and online throughput estimate used in load reports. */
export { Ewma, ThroughputEstimator } from './throughput-estimator.js';

/** Routing policy: least-TTFT prefill choice (Mooncake), load/KV-aware decode choice (TetriInfer). */
export { chooseDecode, choosePrefill, estimateDecodeTpotMs, sharedRate, sharedSlowdown } from './scheduler-policy.js';
/** Load snapshots, routing inputs and choices. */
export type {
  DecodeChoice,
  DecodeLoad,
  DecodePrediction,
  PrefillChoice,
  PrefillLoad,
  RemotePrefix,
  RoutableRequest,
  SharedMachine,
  TransferRule,
} from './scheduler-policy.js';

/** Step policy: the pure per-step and per-placement decisions of the actors (prompt selection, chunk length, preemption victim, fallbacks, admission inputs). */
export {
  BLOCKED_RETRY_MS,
  REPORT_INTERVAL_MS,
  STEP_EWMA_ALPHA,
  bestDecodeTpotMs,
  chunkTokens,
  colocatedRoutingLoad,
  leastLoadedDecode,
  leastOutstanding,
  pooledRate,
  preemptionVictim,
  queueTotals,
  takesPrompt,
  toDecodePrediction,
} from './step-policy.js';
export type { PromptStep, VictimView } from './step-policy.js';

/** SLO-aware early admission (raises OverloadedError with a retry-after hint). */
export { admit } from './admission.js';
/** Admission inputs and decision. */
export type { AdmissionDecision, AdmissionEstimates, AdmissionPolicy } from './admission.js';

/** The token stream `generate()` returns, and the error a consumer that falls behind receives. */
export { TokenStream } from './token-stream.js';
/** Raised to a stream consumer that left more than `capacity` events unread. */
export { ChannelOverflowError } from './async-channel.js';
/** Stream events and options. */
export type { FinalEvent, TextDeltaDecoder, TokenEvent, TokenStreamEvent, TokenStreamOptions } from './token-stream.js';


/** Serving on a NATS cluster: `createEngine({ cluster })` on the scheduler's host, `startClusterWorker` on each worker host. */
export { ClusterUnavailableError, type ClusterOptions } from './cluster/engine-cluster.js';
export { startClusterWorker, WorkerRefusedError, type ClusterWorker, type ClusterWorkerOptions } from './cluster/cluster-worker.js';
export { ClusterProtocolError, parseWorkerRegistration, type WorkerRegistration, type WorkerRole } from './cluster/worker-registration.js';
