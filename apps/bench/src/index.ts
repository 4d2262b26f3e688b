/**
 * Public API of @baton/bench: the goodput benchmark — seeded workloads and Mooncake-format traces,
 * a runner that drives one engine mode at one rate, goodput search and the SLO-scale sweep,
 * hand-written SVG charts, and `benchCommand` (`baton bench`).
 */

/** `baton bench` as a function: argv in, exit code out. */
export { benchCommand, type BenchIo } from './bench-command.js';
/** Argument parsing of `baton bench`, its usage text and parsed shape. */
export { parseBenchArgs, BENCH_USAGE, type BenchArgs, type BenchMode } from './bench-args.js';
/** Typed errors with stable codes. */
export { BenchError, BenchArgumentError, CalibrationError, TraceLineError, WorkloadError, type BenchErrorCode } from './bench-errors.js';
/** Seeded workloads: arrivals (Poisson, gamma with a CV), length mixes, rescaling to a rate. */
export { generateWorkload, atRate, arrivalTimes, MIXES, type Workload, type WorkloadOptions, type BenchRequest, type MixName, type ArrivalProcess } from './workload.js';
/** Mooncake-format JSONL traces: parse, format, read, write, replay, derive from a workload. */
export { parseTrace, formatTrace, readTrace, writeTrace, traceToWorkload, workloadToTrace, type TraceEntry, type TraceReplayOptions } from './trace.js';
/** Drives one engine at one rate and measures every request. */
export { runAtRate, attainment, type RunOptions, type RunResult, type BenchRecord, type ActorRunStats, type RunProgress } from './runner.js';
/** Goodput search over rates and the SLO-scale sweep. */
export { searchGoodput, goodputOf, sloScaleSweep, DEFAULT_SLO_SCALES, type GoodputSearchOptions, type GoodputResult, type RatePoint, type ScalePoint, type SloScaleResult } from './goodput.js';
/** One interleaved repetition over started rigs: goodput, reference rate, sweeps. */
export { runSuite, summarizeSuite, type SuiteOptions, type SuiteResult, type SuiteRates, type ModeResult, type RateSweeps } from './bench-suite.js';
/** A started, warmed-up engine of one configuration and its runs. */
export { startRig, freshContent, type Rig, type RigSpec, type RigContext } from './rig.js';
/** SLO specifications: fixed targets or slowdown targets (K x uncontended latency). */
export { fixedSlo, slowdownSlo, asSpec, meetsSpec, type SloSpec, type UncontendedReference } from './slo-spec.js';
/** Uncontended latencies measured on an idle engine. */
export { calibrate, calibrationLengths, medianPrompt, type CalibrationOptions } from './calibration.js';
/** The model's decode/prefill roofline on this machine. */
export { measureRoofline, formatRoofline, type Roofline, type RooflineOptions } from './roofline.js';
/** The whole comparison: split search, chunk tuning, repetitions, admission check. */
export { runComparison, type ComparisonOptions, type ComparisonResult, type Trial } from './comparison.js';
/** Admission precision: early rejection on vs off on the same arrivals. */
export { checkAdmission, type AdmissionCheck, type AdmissionRate } from './admission-check.js';
/** The comparison's tables, JSON and roofline chart. */
export { formatComparison, comparisonJson, rooflineChart, repFigures, ratioStats, scaleRatioOf, type RepFigures, type Ratio } from './comparison-report.js';
/** The SLO-scale sweep at every fixed rate: tables, JSON and the ratio-vs-rate chart. */
export { rateFigures, figuresByRate, formatRateSweeps, rateSweepJson, tighterSloChart, type RateFigures } from './rate-sweep-report.js';
/** Tables, JSON summary and the output folder. */
export { formatTables, summaryJson, writeOutputs, type ReportContext } from './bench-report.js';
/** Hand-written SVG charts. */
export { renderLineChart, attainmentChart, cdfChart, type LineChartSpec, type Series, type RefLine } from './charts.js';
