/**
 * Public API of @baton/sim: a discrete-event simulator of Baton's engine driven by the engine's
 * own policy code, step-time profiles measured by `baton profile`, and the placement search
 * behind `baton plan`.
 */

/** Typed errors. */
export { SimError, ProfileError, SimOptionsError, PlanArgumentError, type SimErrorCode } from './sim-errors.js';
/** Profiles: format, reading and validation. */
export { PROFILE_FORMAT, parseProfile, readProfile, type Profile, type PrefillPoint, type DecodePoint, type SchedulerCost, type CoRun } from './profile.js';
/** Cost models the simulator runs on. */
export { profileStepTimes, constantStepTimes, type StepTimes, type ProfileTimesOptions } from './step-times.js';
/** The machine a cell's instances share (co-run slowdown, cores). */
export { HostCpu, type Contention, type Work } from './host-cpu.js';
/** Measuring a profile on this machine. */
export { measureProfile, modelSource, type ProfileOptions } from './profiler.js';
export { measureCoRun } from './co-run.js';
/** The engine's path around the model calls, measured on a real engine. */
export { fitLine, type EngineOverhead, type OverheadPoint, type LineFit } from './engine-overhead.js';
export { measureEngineOverhead, engineCanLoad, type ProbeOptions } from './engine-probe.js';
/** The scheduler's decision time. */
export { measureSchedulerCost, timeDecisionUs } from './scheduler-cost.js';
/** The simulator. */
export { simulate, type SimulateOptions, type SimResult } from './simulator.js';
export type { InstanceStats } from './sim-instance.js';
/** Simulation options. */
export { resolveSimConfig, instancesPerCell, type SimConfig, type SimConfigInput, type SimMode, type SchedulerCostMode } from './sim-config.js';
/** Arrivals and per-request results. */
export { arrayArrivals, type SimArrival, type ArrivalSource, type SimOutcome } from './sim-request.js';
export { RequestLog, type SimSummary } from './request-log.js';
/** Scheduler counters of a run. */
export type { SchedulerCounters, DecisionTrace } from './sim-cell.js';
/** The engine policy code the simulator runs (identity-checked by tests). */
export { SIM_POLICY } from './sim-policy.js';
/** Placement search (`baton plan`). */
export { searchPlacement, goodputOf, defaultCandidate, describeCandidate, type PlanCandidate, type PlanResult, type PlanOptions } from './plan-search.js';
/** Streaming Poisson arrivals for long spans. */
export { poissonArrivals } from './poisson-arrivals.js';
