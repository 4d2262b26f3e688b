/**
 * SimCell: one simulated engine — its scheduler, length predictor, KV pool(s) and serving
 * instances. The scheduler is a single server (one actor): requests reach it one hop after they
 * arrive, wait while it is busy, and each decision costs the configured decision time. A decision
 * runs the engine's own policy code on the instances' current load: admission (queue bounds and,
 * with SLO targets, the TTFT/TPOT estimates), the least-TTFT prefill instance with the prefix-cache
 * hit counted, the length prediction, the decode instance by load, KV room and predicted length;
 * in colocated modes, the instance with the fewest outstanding requests, counted as the engine's
 * scheduler counts them (its ledger of requests routed there and not ended, and of prompt tokens
 * without a first token), at the rate of the instance's last load report delivered.
 *
 * Invariants: decisions are made in arrival order; the scheduler's optimistic counts cover a
 * placement until it reaches its instance (one hop); the predictor learns every finished request's
 * real length, in finishing order.
 */
import type { AdmissionPolicy, DecodeLoad, DecodePrediction, LengthPrediction, PrefillLoad } from '@baton/engine';
import { ColocatedInstance, type ColocatedLoad } from './colocated-instance.js';
import type { CellHost } from './cell-host.js';
import { DecodeInstance } from './decode-instance.js';
import { HostCpu } from './host-cpu.js';
import type { EventQueue, EventTarget } from './event-queue.js';
import { PrefillInstance } from './prefill-instance.js';
import { RequestLog } from './request-log.js';
import { instancesPerCell, type SimConfig } from './sim-config.js';
import { SimKvPool } from './sim-kv-pool.js';
import { SIM_POLICY } from './sim-policy.js';
import type { SimOutcome, SimRequest } from './sim-request.js';
import type { StepTimes } from './step-times.js';

const ARRIVE = 0;
const FREE = 1;

/** Counters of one cell's scheduler. */
export interface SchedulerCounters {
  decisions: number;
  rejected: number;
  /** Time requests waited for the scheduler itself (queueing behind other decisions), ms. */
  waitMs: number;
  /** Busy time of the scheduler, ms. */
  busyMs: number;
  /** Wall time spent inside the engine's policy calls, ms (what `measured` charges). */
  policyWallMs: number;
}

/** One scheduling decision with its inputs (for tests and tracing). */
export interface DecisionTrace {
  request: number;
  prefillLoads: PrefillLoad[];
  /** Prompt tokens each candidate's prefix cache holds (by instance id). */
  cached: Record<string, number>;
  decodeLoads: DecodeLoad[];
  /** The hint decode placement got from the length prediction (null in colocated modes). */
  prediction: DecodePrediction | null;
  /** Chosen prefill or colocated instance id, or null when rejected. */
  target: string | null;
  /** Chosen decode instance id (disaggregated), else null. */
  decode: string | null;
}

/** One engine: scheduler + instances. */
export class SimCell implements CellHost, EventTarget {
  readonly prefills: PrefillInstance[] = [];
  readonly decoders: DecodeInstance[] = [];
  readonly colocated: ColocatedInstance[] = [];
  readonly counters: SchedulerCounters = { decisions: 0, rejected: 0, waitMs: 0, busyMs: 0, policyWallMs: 0 };
  readonly #predictor = new SIM_POLICY.LengthPredictor({ seed: 0 });
  readonly #waiting: Array<{ req: SimRequest; at: number }> = [];
  #busy = false;
  /** Placements decided but not yet delivered, per prefill instance (colocated ones are counted in their view). */
  readonly #inTransit: Array<{ requests: number; tokens: number }>;
  /** The last reported rate of each colocated instance, as the scheduler holds it. */
  readonly #colocatedRate: ColocatedLoad[] = [];
  /** The scheduler's ledger per colocated instance: requests routed there and not ended, prompt tokens without a first token. */
  readonly #colocatedLedger: Array<{ requests: number; prefillTokens: number }> = [];
  /** In-flight predicted-long requests per decode instance. */
  readonly #longs: number[];
  readonly #instances: number;
  readonly #admission: AdmissionPolicy;
  readonly cpu: HostCpu;

  constructor(
    readonly queue: EventQueue,
    readonly config: SimConfig,
    readonly times: StepTimes,
    private readonly log: RequestLog,
    private readonly onEnd: (req: SimRequest, now: number) => void,
    private readonly trace: ((d: DecisionTrace) => void) | null = null,
  ) {
    this.cpu = new HostCpu(queue, config.cpu === 'shared' ? times.contention : null);
    const shared = config.kv.scope === 'shared' ? new SimKvPool(config.kv.numBlocks) : null;
    const pool = (): SimKvPool => shared ?? new SimKvPool(config.kv.numBlocks);
    if (config.mode === 'disaggregated') {
      for (let i = 0; i < config.decode; i++) this.decoders.push(new DecodeInstance(i, this, pool()));
      for (let i = 0; i < config.prefill; i++) this.prefills.push(new PrefillInstance(i, this, pool()));
    } else {
      for (let i = 0; i < config.colocated; i++) {
        const c = new ColocatedInstance(i, this, pool(), config.mode === 'chunked', (load) => {
          this.#colocatedRate[i] = load;
        });
        this.colocated.push(c);
        // NOTE: the engine's scheduler starts every colocated instance at the prior rate (its `wire`).
        this.#colocatedRate.push({ id: c.id, tokensPerSecond: c.throughput.tokensPerSecond });
        this.#colocatedLedger.push({ requests: 0, prefillTokens: 0 });
      }
    }
    this.#instances = instancesPerCell(config);
    this.#inTransit = Array.from({ length: this.prefills.length }, () => ({ requests: 0, tokens: 0 }));
    this.#longs = this.decoders.map(() => 0);
    this.#admission = { slo: config.slo, maxQueuedRequests: config.queue.maxRequests, maxQueuedPromptTokens: config.queue.maxPromptTokens };
  }

  /** A request arrives at the engine at `now` (it reaches the scheduler one hop, and the engine's measured path, later). */
  arrive(req: SimRequest, now: number): void {
    this.queue.push(now + this.times.hopMs + this.times.pathMs, new Deliver(this, req), ARRIVE);
  }

  /** The request reached the scheduler. */
  reachScheduler(req: SimRequest, now: number): void {
    if (this.#busy) {
      this.#waiting.push({ req, at: now });
      return;
    }
    this.#decide(req, now);
  }

  fire(now: number, tag: number): void {
    if (tag !== FREE) return;
    this.#busy = false;
    const next = this.#waiting.shift();
    if (next === undefined) return;
    this.counters.waitMs += now - next.at;
    this.#decide(next.req, now);
  }

  /** The request's prompt is prefilled (or it ended first): the ledger stops charging its prompt tokens. */
  firstToken(req: SimRequest): void {
    const l = this.#colocatedLedger[req.colocated];
    if (l === undefined) return;
    l.prefillTokens -= req.ledgerTokens;
    req.ledgerTokens = 0;
  }

  ended(req: SimRequest, outcome: SimOutcome, now: number): void {
    if (req.done) return;
    req.done = true;
    this.firstToken(req);
    const l = this.#colocatedLedger[req.colocated];
    if (l !== undefined) l.requests--;
    if (req.decode >= 0 && req.isLong) this.#longs[req.decode]--;
    if (outcome === 'finished' && this.config.lengthPrediction === 'engine') this.#predictor.learn(req.promptIds, req.emitted);
    this.log.add(req, outcome);
    this.onEnd(req, now);
  }

  #decide(req: SimRequest, now: number): void {
    const wall0 = this.config.schedulerCost === 'measured' ? performance.now() : 0;
    const placed = this.config.mode === 'disaggregated' ? this.#placeDisaggregated(req) : this.#placeColocated(req);
    let cost = 0;
    if (this.config.schedulerCost === 'measured') {
      cost = performance.now() - wall0;
      this.counters.policyWallMs += cost;
    } else if (this.config.schedulerCost === 'profile') cost = this.times.schedulerUs(this.#instances) / 1000;
    this.counters.decisions++;
    this.counters.busyMs += cost;
    const deliverAt = now + cost + this.times.hopMs;
    if (placed === null) {
      this.counters.rejected++;
      this.ended(req, 'rejected', now + cost);
    } else {
      if (this.config.mode === 'disaggregated') {
        const t = this.#inTransit[placed];
        t.requests++;
        t.tokens += req.promptTokens;
      }
      this.queue.push(deliverAt, new Place(this, req, placed), 0);
    }
    if (cost > 0) {
      this.#busy = true;
      this.queue.push(now + cost, this, FREE);
    } else if (this.#waiting.length > 0) {
      const next = this.#waiting.shift();
      if (next !== undefined) this.#decide(next.req, now);
    }
  }

  /** The placement reached its instance. */
  deliver(req: SimRequest, target: number, now: number): void {
    if (this.config.mode !== 'disaggregated') {
      this.colocated[target].submit(req, now);
      return;
    }
    const t = this.#inTransit[target];
    t.requests--;
    t.tokens -= req.promptTokens;
    this.prefills[target].enqueue(req, now);
  }

  #withTransit(l: PrefillLoad, i: number): PrefillLoad {
    const t = this.#inTransit[i];
    return t.requests === 0 ? l : { ...l, queuedRequests: l.queuedRequests + t.requests, queuedPromptTokens: l.queuedPromptTokens + t.tokens };
  }

  #cachedTokens(pool: SimKvPool, req: SimRequest): number {
    return pool.matchLength(req.hashes) * this.config.kv.blockSize;
  }

  /** Prefill instance index, or null when admission rejects. */
  #placeDisaggregated(req: SimRequest): number | null {
    const cfg = this.config;
    const loads = this.prefills.map((p, i) => this.#withTransit(p.load(), i));
    const cached: Record<string, number> = {};
    for (const p of this.prefills) cached[p.id] = this.#cachedTokens(p.pool, req);
    const choice = SIM_POLICY.choosePrefill(req, SIM_POLICY.pooledRate(loads), (id) => cached[id]);
    if (choice === null) return null;
    const decodeLoads = this.decoders.map((d, i) => d.load(this.#longs[i]));
    const decision = SIM_POLICY.admit({ promptTokens: req.promptTokens }, {
      ttftMs: choice.ttftMs,
      queueMs: choice.queueMs,
      tpotMs: SIM_POLICY.bestDecodeTpotMs(decodeLoads),
      ...SIM_POLICY.queueTotals(loads),
    }, this.#admission);
    if (!decision.admitted) {
      this.trace?.({ request: req.index, prefillLoads: loads, cached, decodeLoads, prediction: null, target: null, decode: null });
      return null;
    }
    const target = indexOf(choice.actorId);
    const prediction: LengthPrediction | null = this.config.lengthPrediction === 'engine' ? this.#predictor.predict(req.promptIds) : null;
    const hint = prediction === null ? null : SIM_POLICY.toDecodePrediction(prediction, req.maxTokens);
    const d = SIM_POLICY.chooseDecode(req, hint, decodeLoads, { blockSize: cfg.kv.blockSize, maxBatch: cfg.maxBatch });
    req.decode = d === null ? SIM_POLICY.leastLoadedDecode(decodeLoads) : indexOf(d.actorId);
    req.isLong = hint?.isLong ?? false;
    if (req.isLong) this.#longs[req.decode]++;
    this.trace?.({ request: req.index, prefillLoads: loads, cached, decodeLoads, prediction: hint, target: choice.actorId, decode: this.decoders[req.decode].id });
    return target;
  }

  #placeColocated(req: SimRequest): number | null {
    // NOTE: the engine's scheduler routes on its ledger and the reported rates, not on the actors' state now.
    const loads = this.#colocatedRate.map((r, i) => SIM_POLICY.colocatedRoutingLoad(r, this.#colocatedLedger[i]));
    const cached: Record<string, number> = {};
    for (const c of this.colocated) cached[c.id] = this.#cachedTokens(c.pool, req);
    const choice = SIM_POLICY.choosePrefill(req, [SIM_POLICY.leastOutstanding(loads)], (id) => cached[id]);
    if (choice === null) return null;
    const decision = SIM_POLICY.admit({ promptTokens: req.promptTokens }, {
      ttftMs: choice.ttftMs,
      queueMs: choice.queueMs,
      tpotMs: null,
      ...SIM_POLICY.queueTotals(loads),
    }, this.#admission);
    this.trace?.({ request: req.index, prefillLoads: loads, cached, decodeLoads: [], prediction: null, target: decision.admitted ? choice.actorId : null, decode: null });
    if (!decision.admitted) return null;
    const target = indexOf(choice.actorId);
    const ledger = this.#colocatedLedger[target];
    req.colocated = target;
    req.ledgerTokens = req.promptTokens - choice.cachedTokens;
    ledger.requests++;
    ledger.prefillTokens += req.ledgerTokens;
    return target;
  }
}

/** Instance index from an id like `prefill-3`. */
function indexOf(id: string): number {
  return Number(id.slice(id.lastIndexOf('-') + 1));
}

/** A request on its way to the scheduler. */
class Deliver implements EventTarget {
  constructor(private readonly cell: SimCell, private readonly req: SimRequest) {}
  fire(now: number): void {
    this.cell.reachScheduler(this.req, now);
  }
}

/** A placement on its way to its instance. */
class Place implements EventTarget {
  constructor(private readonly cell: SimCell, private readonly req: SimRequest, private readonly target: number) {}
  fire(now: number): void {
    this.cell.deliver(this.req, this.target, now);
  }
}
