/**
 * Typed errors of @baton/bench. Every error carries a stable `code`; its message names exactly
 * what was wrong (the argument, the trace line and field, the workload option).
 */

/** Stable error codes of the bench package. */
export type BenchErrorCode = 'BAD_ARGUMENT' | 'BAD_TRACE_LINE' | 'BAD_WORKLOAD' | 'CALIBRATION_FAILED';

/** Base class of every bench error. */
export class BenchError extends Error {
  constructor(
    message: string,
    /** Stable machine-readable code. */
    readonly code: BenchErrorCode,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** A command-line argument was missing, unknown or malformed (the CLI exits 2). */
export class BenchArgumentError extends BenchError {
  constructor(
    /** The argument as written on the command line, e.g. `--rate`. */
    readonly argument: string,
    detail: string,
  ) {
    super(`${argument}: ${detail}`, 'BAD_ARGUMENT');
  }
}

/** A line of a JSONL trace could not be read. */
export class TraceLineError extends BenchError {
  constructor(
    /** 1-based line number in the trace file. */
    readonly line: number,
    /** The offending field, or null when the line itself is not a JSON object. */
    readonly field: string | null,
    detail: string,
  ) {
    super(`trace line ${line}${field === null ? '' : `, field "${field}"`}: ${detail}`, 'BAD_TRACE_LINE');
  }
}

/** A workload option was out of range. */
export class WorkloadError extends BenchError {
  constructor(
    /** The option name, e.g. `rate` or `cv`. */
    readonly option: string,
    detail: string,
  ) {
    super(`workload option ${option}: ${detail}`, 'BAD_WORKLOAD');
  }
}

/** A calibration request (uncontended latency for slowdown SLOs) did not finish normally. */
export class CalibrationError extends BenchError {
  constructor(detail: string) {
    super(`calibration: ${detail}`, 'CALIBRATION_FAILED');
  }
}
