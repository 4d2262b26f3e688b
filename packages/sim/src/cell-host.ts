/**
 * What a simulated serving instance needs from the cell it belongs to: the clock and event queue,
 * options and step times, the machine its instances share, the decode instances (prefill hands KV to them), and the scheduler's
 * end-of-request hooks.
 */
import type { EventQueue } from './event-queue.js';
import type { SimConfig } from './sim-config.js';
import type { SimOutcome, SimRequest } from './sim-request.js';
import type { StepTimes } from './step-times.js';
import type { DecodeInstance } from './decode-instance.js';
import type { HostCpu } from './host-cpu.js';

/** The cell an instance belongs to. */
export interface CellHost {
  readonly queue: EventQueue;
  readonly config: SimConfig;
  readonly times: StepTimes;
  readonly decoders: readonly DecodeInstance[];
  /** The machine the cell's instances share. */
  readonly cpu: HostCpu;
  /** A colocated instance emitted the request's first token at `now` (its prompt is prefilled). */
  firstToken(req: SimRequest, now: number): void;
  /** A request ended at `now`. */
  ended(req: SimRequest, outcome: SimOutcome, now: number): void;
}
