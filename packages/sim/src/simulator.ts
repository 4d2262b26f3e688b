/**
 * simulate(): runs arrivals through simulated cells of Baton's engine on a cost model and returns
 * what happened to every request. Arrivals are pulled one at a time and spread over the cells
 * round-robin; after the last one, the run goes on for `drainMs` and whatever is still unfinished
 * is counted as aborted (the bench runner's rule).
 *
 * Invariants: deterministic for given inputs unless `schedulerCost: 'measured'` (which charges
 * wall-clock time of the policy calls); every arrival ends up in the log exactly once.
 */
import type { SloTargets } from '@baton/engine';
import { EventQueue, type EventTarget } from './event-queue.js';
import { RequestLog, type SimSummary } from './request-log.js';
import { SimCell, type DecisionTrace, type SchedulerCounters } from './sim-cell.js';
import { resolveSimConfig, type SimConfig, type SimConfigInput } from './sim-config.js';
import { blockHashes } from './sim-kv-pool.js';
import { arrayArrivals, SimRequest, type ArrivalSource, type SimArrival } from './sim-request.js';
import type { InstanceStats } from './sim-instance.js';
import type { StepTimes } from './step-times.js';

/** Inputs of {@link simulate}. */
export interface SimulateOptions {
  config: SimConfigInput;
  times: StepTimes;
  /** Arrivals (a bench workload's requests at a rate fit as they are), or a source that streams them. */
  arrivals: readonly SimArrival[] | ArrivalSource;
  /** Called with every scheduling decision and its inputs. */
  onDecision?: (d: DecisionTrace) => void;
}

/** What a simulation produced. */
export interface SimResult {
  config: SimConfig;
  log: RequestLog;
  /** Summary with attainment against `slo`. */
  summary(slo: SloTargets | null): SimSummary;
  /** Simulated span, first arrival to the last event, ms. */
  simulatedMs: number;
  events: number;
  wallMs: number;
  instances: InstanceStats[];
  /** Scheduler counters summed over cells. */
  scheduler: SchedulerCounters;
}

/** Runs a simulation. @throws {SimOptionsError} on bad options */
export function simulate(opts: SimulateOptions): SimResult {
  const t0 = performance.now();
  const config = resolveSimConfig(opts.config);
  const queue = new EventQueue();
  const log = new RequestLog();
  const live = new Set<SimRequest>();
  const cells = Array.from({ length: config.cells }, () => new SimCell(queue, config, opts.times, log, (req) => live.delete(req), opts.onDecision ?? null));
  const source = Array.isArray(opts.arrivals) ? arrayArrivals(opts.arrivals as readonly SimArrival[]) : (opts.arrivals as ArrivalSource);
  const feeder = new Feeder(source, cells, config.kv.blockSize, live, queue);
  feeder.start();
  // NOTE: runs until the queue empties or the feeder's drain deadline stops it.
  queue.run();
  for (const req of live) {
    if (!req.done) {
      req.done = true;
      log.add(req, 'aborted');
    }
  }
  const span = Math.max(0, queue.now - feeder.firstMs);
  const instances = cells.flatMap((c, ci) => [...c.prefills, ...c.decoders, ...c.colocated].map((i) => i.stats(ci, span)));
  const scheduler = cells.reduce<SchedulerCounters>((a, c) => ({
    decisions: a.decisions + c.counters.decisions,
    rejected: a.rejected + c.counters.rejected,
    waitMs: a.waitMs + c.counters.waitMs,
    busyMs: a.busyMs + c.counters.busyMs,
    policyWallMs: a.policyWallMs + c.counters.policyWallMs,
  }), { decisions: 0, rejected: 0, waitMs: 0, busyMs: 0, policyWallMs: 0 });
  return {
    config,
    log,
    summary: (slo) => log.summary(slo),
    simulatedMs: span,
    events: queue.fired,
    wallMs: performance.now() - t0,
    instances,
    scheduler,
  };
}

const ARRIVAL = 0;
const DEADLINE = 1;

/** Pulls arrivals one at a time and hands them to cells; stops the run at the drain deadline. */
class Feeder implements EventTarget {
  #next: SimArrival | null = null;
  #count = 0;
  firstMs = 0;
  readonly #hashes = new WeakMap<readonly number[], number[]>();

  constructor(
    private readonly source: ArrivalSource,
    private readonly cells: SimCell[],
    private readonly blockSize: number,
    private readonly live: Set<SimRequest>,
    private readonly queue: EventQueue,
  ) {}

  start(): void {
    this.#next = this.source.next();
    if (this.#next === null) return;
    this.firstMs = this.#next.arrivalMs;
    this.queue.now = this.firstMs;
    this.queue.push(this.#next.arrivalMs, this, ARRIVAL);
  }

  fire(now: number, tag: number): void {
    if (tag === DEADLINE) {
      this.queue.stop();
      return;
    }
    const a = this.#next;
    if (a === null) return;
    let hashes = this.#hashes.get(a.promptIds);
    if (hashes === undefined) this.#hashes.set(a.promptIds, (hashes = blockHashes(a.promptIds, this.blockSize)));
    const salt = a.salt;
    const req = new SimRequest(a, salt === undefined ? hashes : hashes.map((h) => (h ^ Math.imul(salt, 0x9e3779b1)) & 0x3fffffff));
    this.live.add(req);
    this.cells[this.#count++ % this.cells.length].arrive(req, now);
    this.#next = this.source.next();
    if (this.#next !== null) this.queue.push(this.#next.arrivalMs, this, ARRIVAL);
    else this.queue.push(now + this.cells[0].config.drainMs, this, DEADLINE);
  }
}
