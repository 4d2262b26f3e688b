/**
 * Runner: drives one engine at one request rate — sends every request at its arrival time, waits
 * for all of them (up to a drain deadline), and turns what came back into per-request records,
 * a run summary and SLO attainment.
 *
 * Invariants: every request of the run yields exactly one record; a request that was rejected
 * (OverloadedError), failed, or was still unfinished at the deadline (then aborted) fails the SLO;
 * with `stopEarly`, once more requests have certainly failed than the attainment goal allows, the
 * run stops sending, aborts what is in flight and reports attainment as bounds (`attainment` is
 * the lower bound: unsent and aborted requests count as failing; `attainmentUpper` the upper);
 * `arrivalMs` in a record is the request's scheduled arrival on the engine's clock, so lateness of
 * the sending loop itself counts against TTFT instead of hiding.
 */
import { summarize, type Engine, type EngineStats, type RequestTimingRecord, type RunSummary, type ServingActorStats, type SloTargets } from '@baton/engine';
import { asSpec, meetsSpec, type SloSpec } from './slo-spec.js';
import type { BenchRequest } from './workload.js';

/** One request's outcome: the engine's timing record plus what the bench knows about it. */
export interface BenchRecord extends RequestTimingRecord {
  mode: string;
  /** Offered rate of the run, requests/s. */
  rate: number;
  /** Index of the request in the workload. */
  index: number;
  outputTokensRequested: number;
  /** How it ended from the bench's side. */
  outcome: 'finished' | 'rejected' | 'failed' | 'aborted' | 'not-sent';
  /** Error message for rejected/failed requests, else null. */
  error: string | null;
  /** How late the bench called generate() after the scheduled arrival, ms. */
  sendLagMs: number;
}

/** Per-actor numbers over one run (deltas of the engine's cumulative counters). */
export interface ActorRunStats {
  name: string;
  role: ServingActorStats['role'];
  /** Busy share of the run's wall time (0..1, approximate). */
  utilization: number;
  steps: number;
  meanBatchSize: number | null;
  tokensProcessed: number;
  preemptions: number;
}

/** Progress of a run in flight. */
export interface RunProgress {
  sent: number;
  done: number;
  total: number;
}

/** Options of {@link runAtRate}. */
export interface RunOptions {
  engine: Engine;
  /** Engine mode label stored in the records. */
  mode: string;
  rate: number;
  requests: readonly BenchRequest[];
  /** Fixed targets, or a spec with per-request targets (slowdown SLOs). */
  slo: SloTargets | SloSpec;
  /** After the last arrival, unfinished requests get this long before they are aborted. Default 20 000. */
  drainMs?: number;
  /** When the engine was created (engine clock, ms): the base of the utilization estimate. */
  engineStartMs: number;
  onProgress?: (p: RunProgress) => void;
  /** Stop as soon as attainment below this goal is certain (saves the drain of an overloaded run). */
  stopEarly?: { target: number } | null;
}

/** What one run produced. */
export interface RunResult {
  mode: string;
  rate: number;
  records: BenchRecord[];
  summary: RunSummary;
  /** Share of requests that finished within both targets (a lower bound when `stoppedEarly`). */
  attainment: number;
  /** Upper bound of the attainment (equals `attainment` unless `stoppedEarly`). */
  attainmentUpper: number;
  stoppedEarly: boolean;
  wallMs: number;
  actors: ActorRunStats[];
}

const now = (): number => performance.timeOrigin + performance.now();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/** Runs `requests` against `engine` at their arrival times and measures them. */
export async function runAtRate(opts: RunOptions): Promise<RunResult> {
  const spec = asSpec(opts.slo);
  const before = await statsOrNull(opts.engine);
  const t0 = now();
  const start = t0 + 20;
  const watch = new FailureWatch(opts, spec);
  const progress = setInterval(() => {
    watch.check();
    opts.onProgress?.({ sent: watch.sent, done: watch.done, total: opts.requests.length });
  }, 100);
  try {
    const pending: Promise<BenchRecord>[] = [];
    for (const req of opts.requests) {
      const due = start + req.arrivalMs;
      await sleep(due - now());
      if (watch.stopped) break;
      pending.push(send(opts, spec, req, due, watch));
    }
    const lastDue = start + Math.max(0, ...opts.requests.map((r) => r.arrivalMs));
    const timer = setTimeout(() => watch.abortAll(), lastDue + (opts.drainMs ?? 20_000) - now());
    const sent = await Promise.all(pending);
    clearTimeout(timer);
    const wallMs = now() - t0;
    const records = [...sent, ...opts.requests.slice(sent.length).map((r) => notSent(opts, r, start + r.arrivalMs))];
    const after = await statsOrNull(opts.engine);
    const lower = attainment(records, spec);
    return {
      mode: opts.mode,
      rate: opts.rate,
      records,
      summary: summarize(records, { slo: spec.nominal }),
      attainment: lower,
      attainmentUpper: watch.stopped ? Math.max(lower, 1 - watch.failures / records.length) : lower,
      stoppedEarly: watch.stopped,
      wallMs,
      actors: before === null || after === null ? [] : actorDeltas(before, after, { from: t0, to: now(), engineStartMs: opts.engineStartMs }),
    };
  } finally {
    clearInterval(progress);
  }
}

/**
 * Tracks requests in flight and counts those that certainly fail: ended without meeting the SLO,
 * or still without a first token (or with a late one) past the TTFT target.
 */
class FailureWatch {
  readonly #tracked: Array<{ dueMs: number; ttftMs: number; firstMs: number | null; failed: boolean; controller: AbortController }> = [];
  readonly #allowed: number;
  sent = 0;
  done = 0;
  failures = 0;
  stopped = false;

  constructor(opts: RunOptions, private readonly spec: SloSpec) {
    const target = opts.stopEarly?.target ?? null;
    this.#allowed = target === null ? Infinity : Math.floor((1 - target) * opts.requests.length + 1e-9);
  }

  /** Registers a request; returns its hooks. */
  track(dueMs: number, promptTokens: number): { signal: AbortSignal; first: (t: number) => void; end: (met: boolean) => void } {
    const t = { dueMs, ttftMs: this.spec.targetsFor(promptTokens).ttftMs, firstMs: null as number | null, failed: false, controller: new AbortController() };
    this.#tracked.push(t);
    this.sent += 1;
    return {
      signal: t.controller.signal,
      first: (time) => (t.firstMs ??= time),
      end: (met) => {
        this.done += 1;
        if (!met) this.#fail(t);
      },
    };
  }

  /** Counts requests whose TTFT already broke the target; stops the run when it must fail. */
  check(): void {
    const at = now();
    for (const t of this.#tracked) {
      if (!t.failed && (t.firstMs === null ? t.dueMs + t.ttftMs < at : t.firstMs - t.dueMs > t.ttftMs)) this.#fail(t);
    }
  }

  abortAll(): void {
    for (const t of this.#tracked) t.controller.abort();
  }

  #fail(t: { failed: boolean }): void {
    if (t.failed) return;
    t.failed = true;
    this.failures += 1;
    if (this.failures > this.#allowed && !this.stopped) {
      this.stopped = true;
      this.abortAll();
    }
  }
}

/** Share of records that finished and met both targets (0 for an empty set). */
export function attainment(records: readonly BenchRecord[], slo: SloTargets | SloSpec): number {
  if (records.length === 0) return 0;
  const spec = asSpec(slo);
  return records.filter((r) => r.outcome === 'finished' && meetsSpec(r, spec)).length / records.length;
}

async function send(opts: RunOptions, spec: SloSpec, req: BenchRequest, dueMs: number, watch: FailureWatch): Promise<BenchRecord> {
  const base = { mode: opts.mode, rate: opts.rate, index: req.index, outputTokensRequested: req.maxTokens, sendLagMs: now() - dueMs };
  const hooks = watch.track(dueMs, req.promptIds.length);
  let record: BenchRecord;
  try {
    const gen = opts.engine.generate({ prompt: req.promptIds, maxTokens: req.maxTokens, temperature: 0, signal: hooks.signal });
    // NOTE: only the first event is read; the stream buffers the rest (capacity maxTokens + 2) and
    // leaving the iterator open (no return()) does not cancel the request.
    void gen[Symbol.asyncIterator]().next().then((ev) => { if (!ev.done && ev.value.type === 'token') hooks.first(ev.value.time); }, () => undefined);
    const result = await gen.result;
    const t = result.timing;
    const outcome = result.finishReason === 'abort' ? 'aborted' : result.finishReason === 'error' ? 'failed' : 'finished';
    record = { ...t, ...base, arrivalMs: Math.min(dueMs, t.arrivalMs), outcome, error: result.error?.message ?? null };
  } catch (e) {
    const rejected = e instanceof Error && (e as { code?: unknown }).code === 'OVERLOADED';
    record = emptyRecord(opts, req, dueMs, rejected ? 'rejected' : 'failed', e instanceof Error ? e.message : String(e));
    record.sendLagMs = base.sendLagMs;
  }
  hooks.end(record.outcome === 'finished' && meetsSpec(record, spec));
  return record;
}

function notSent(opts: RunOptions, req: BenchRequest, dueMs: number): BenchRecord {
  return emptyRecord(opts, req, dueMs, 'not-sent', 'not sent: the run stopped early (attainment below the goal was certain)');
}

function emptyRecord(opts: RunOptions, req: BenchRequest, dueMs: number, outcome: BenchRecord['outcome'], error: string): BenchRecord {
  return {
    mode: opts.mode,
    rate: opts.rate,
    index: req.index,
    outputTokensRequested: req.maxTokens,
    sendLagMs: 0,
    id: `r${req.index}`,
    promptTokens: req.promptIds.length,
    arrivalMs: dueMs,
    prefillStartMs: null,
    tokenTimesMs: [],
    kvTransferStartMs: null,
    kvTransferEndMs: null,
    finishMs: Math.max(dueMs, now()),
    finishReason: 'error',
    outcome,
    error,
  };
}

async function statsOrNull(engine: Engine): Promise<EngineStats | null> {
  try {
    return await engine.stats();
  } catch {
    // NOTE: a saturated actor may not answer within the engine's stats timeout; the run's
    // latency records stand on their own, only its actor table is then left empty.
    return null;
  }
}

function actorDeltas(
  before: EngineStats,
  after: EngineStats,
  span: { from: number; to: number; engineStartMs: number },
): ActorRunStats[] {
  return after.actors.map((a) => {
    const b = before.actors.find((x) => x.name === a.name);
    const steps = a.steps - (b?.steps ?? 0);
    const batchTotal = (a.meanBatchSize ?? 0) * a.steps - (b?.meanBatchSize ?? 0) * (b?.steps ?? 0);
    const busy = a.utilization * (span.to - span.engineStartMs) - (b?.utilization ?? 0) * (span.from - span.engineStartMs);
    return {
      name: a.name,
      role: a.role,
      utilization: Math.min(1, Math.max(0, busy / Math.max(1, span.to - span.from))),
      steps,
      meanBatchSize: steps === 0 ? null : batchTotal / steps,
      tokensProcessed: a.tokensProcessed - (b?.tokensProcessed ?? 0),
      preemptions: a.preemptions - (b?.preemptions ?? 0),
    };
  });
}
