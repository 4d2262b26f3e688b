/**
 * SchedulerActor: the global control plane. It admits or rejects each request at once (Mooncake's
 * SLO-aware early rejection), sends it to a prefill actor by the `routing` option — `prompt-tree`:
 * the least expected TTFT = queue + prefill of the uncached suffix, where the cached part is what
 * the global prompt tree (kept from the prefill actors' batched pool events) says that actor holds,
 * in any tier; `session`: a hash of the request's session id; `least-load`: no prefix credit — asks the length predictor for the
 * output-length bucket while prefill is queued, and then picks the decode actor from that
 * prediction, load and free KV (TetriInfer). In colocated modes it routes to the least loaded
 * colocated actor with the same admission rule.
 *
 * With prompt-tree routing the rule is Mooncake's: when a longer cached prefix of the prompt lives
 * on another instance (another pool: a prefill or decode actor in another process) and moving it
 * costs less than recomputing it, the expected TTFT counts the transfer instead, and when such a
 * candidate wins, the holder is told to send that prefix (`sendPrefix`, transfer-with-insert) and
 * the chosen prefill actor waits for it (`prefixSent` -> `prefixArrived`); the PrefixLocator keeps
 * the tree, the sites and the measured transfer throughput. A prompt routed to an instance counts
 * as cached there at once (a pending prefix in the tree until inserted), and prompt-tree routing
 * weighs each queue as the scheduler's ledger of tokens still to compute there (routed, no first
 * token yet, the one prefilling included) / the pooled rate.
 *
 * Invariants: it never awaits another actor inside a handler (predictions come back as
 * `predicted` messages), so a slow actor can never stall admission; load it routes on is the
 * latest report plus its own optimistic increments since then.
 */
import { Actor } from '@baton/actors';
import { BlockPool } from '@baton/kv-cache';
import { admit } from '../admission.js';
import { engineNow } from '../clock.js';
import { EngineError, UnavailableError } from '../errors.js';
import type { LengthPrediction } from '../length-predictor.js';
import type { KvSite, LoadReport, SchedulerInit, SchedulerMsg, SchedulerStats, SchedulerWiring, SubmitReply, WireRequest } from '../protocol.js';
import type { ElasticView, FlipReply, GrowReply } from '../elastic-protocol.js';
import { TtftCalibrator, type TtftEstimate } from '../ttft-calibrator.js';
import { PrefixLocator } from './prefix-locator.js';
import { RoutingAudit } from '../routing-audit.js';
import { ElasticControl } from './elastic-control.js';
import { chooseDecode, choosePrefill, sharedRate, type DecodeLoad, type PrefillLoad } from '../scheduler-policy.js';
import { bestDecodeTpotMs, colocatedRoutingLoad, leastLoadedDecode, leastOutstanding, pooledRate, queueTotals, toDecodePrediction } from '../step-policy.js';

interface InFlight {
  request: WireRequest;
  /** The admission estimate before calibration. */
  estimate: TtftEstimate;
  /** Prefill actor index, or colocated actor index in colocated modes. */
  target: number;
  decode: number | null;
  isLong: boolean;
  /** Prompt tokens the target still has to compute for it (routed, no first token yet); null once prefilled. */
  prefillTokens: number | null;
}

const PREDICT_TIMEOUT_MS = 250;
/** Why an engine whose roles are fixed refuses every flip, spawn and retirement. */
const FIXED = 'roles are fixed (elastic.mode is fixed)';
/** Retry-after hint when every actor of a role is down (a restart takes about this long). */
const UNAVAILABLE_RETRY_MS = 2_000;

/** Scheduler actor (module default export, spawned by the engine). */
export default class SchedulerActor extends Actor<SchedulerMsg, SchedulerInit> {
  readonly #inFlight = new Map<string, InFlight>();
  #refs: SchedulerWiring = { prefill: [], decode: [], colocated: [], predictor: null };
  #prefill: PrefillLoad[] = [];
  #decode: DecodeLoad[] = [];
  /** Each colocated actor's last reported prefill rate (its counts come from the ledger, {@link #colocatedLedger}). */
  #colocated: Array<{ id: string; tokensPerSecond: number }> = [];
  #accepted = 0;
  #rejected = 0;
  /** Serving actors that are down: no new work goes to them until they are back. */
  readonly #down = new Set<string>();
  /** Down actors that are being restarted: with no other choice, work still goes to them (it waits for the restart). */
  readonly #restarting = new Set<string>();
  /** Whether a serving actor is down (no new work goes to it while another is up). */
  readonly #isDown = (id: string): boolean => this.#down.has(id);
  /** Corrects admission's TTFT estimates with measured first-token times. */
  readonly #calibrator = new TtftCalibrator({ now: engineNow });
  /** Each routing decision's expected TTFT against the TTFT it got. */
  readonly #audit = new RoutingAudit();
  /** Which serving actor holds which cached prefix, and prefix transfers between them. */
  readonly #prefixes = new PrefixLocator({
    blockSize: this.init.blockSize,
    cacheEnabled: this.init.cacheEnabled,
    // NOTE: the prefill actors' pool, when the scheduler shares it (it reads prefix-cache credit there).
    pool: this.init.pool === null ? null : BlockPool.attach(this.init.pool),
    siteActor: (site) => this.#siteActor(site),
    isDown: (actor) => this.#down.has(actor),
    now: engineNow,
  });
  #credited = 0;
  #routedTokens = 0;
  /** Elastic instances (null when roles are fixed): which actors take new work, and the flips. */
  readonly #elastic: ElasticControl | null = this.init.elastic === null ? null : new ElasticControl(this.init.elastic.roles, this.init.elastic.options, {
    refs: () => this.#refs,
    prefillLoads: () => this.#prefill,
    decodeLoads: () => this.#decode,
    inFlight: this.#inFlight,
    isDown: (actor) => this.#down.has(actor),
    client: this.init.client,
    host: this.init.elastic.host,
    now: engineNow,
  });

  readonly handlers = {
    wire: (m: Extract<SchedulerMsg, { type: 'wire' }>) => this.#wire(m),
    flip: (m: Extract<SchedulerMsg, { type: 'flip' }>): FlipReply => this.#elastic?.flip(m) ?? { accepted: false, reason: FIXED },
    moved: (m: Extract<SchedulerMsg, { type: 'moved' }>) => this.#elastic?.moved(m),
    requeue: (m: Extract<SchedulerMsg, { type: 'requeue' }>) => this.#elastic?.requeue(m),
    retired: (m: Extract<SchedulerMsg, { type: 'retired' }>) => this.#elastic?.retired(m),
    restoreRoles: (m: Extract<SchedulerMsg, { type: 'restoreRoles' }>) => this.#elastic?.restore(m.table),
    grow: (m: Extract<SchedulerMsg, { type: 'grow' }>): GrowReply => this.#elastic?.grow(m) ?? { accepted: false, reason: FIXED },
    shrink: (m: Extract<SchedulerMsg, { type: 'shrink' }>): FlipReply => this.#elastic?.shrink(m) ?? { accepted: false, reason: FIXED },
    instanceAdded: (m: Extract<SchedulerMsg, { type: 'instanceAdded' }>) => this.#elastic?.instanceAdded(m),
    spawnFailed: (m: Extract<SchedulerMsg, { type: 'spawnFailed' }>) => this.#elastic?.spawnFailed(m),
    elastic: (): ElasticView => this.#elastic?.view() ?? { instances: [], baseInstances: 0, spawning: 0, firstTokens: [], prefill: { queuedRequests: 0, queuedPromptTokens: 0, tokensPerSecond: 0 }, decode: { queued: 0, running: 0, kvUsage: 0, stepMs: null } },
    submit: (m: Extract<SchedulerMsg, { type: 'submit' }>): SubmitReply => this.#submit(m.request),
    abort: (m: Extract<SchedulerMsg, { type: 'abort' }>) => this.#abort(m.requestId),
    load: (m: Extract<SchedulerMsg, { type: 'load' }>) => this.#load(m.report),
    finished: (m: Extract<SchedulerMsg, { type: 'finished' }>) => this.#finished(m.requestId, m.outputTokens),
    firstToken: (m: Extract<SchedulerMsg, { type: 'firstToken' }>) => this.#calibrate(m.requestId, m.ttftMs),
    predicted: (m: Extract<SchedulerMsg, { type: 'predicted' }>) => this.#predicted(m.requestId, m.prediction),
    cacheEvents: (m: Extract<SchedulerMsg, { type: 'cacheEvents' }>) => this.#prefixes.cacheEvents(m),
    prefixSent: (m: Extract<SchedulerMsg, { type: 'prefixSent' }>) => this.#prefixSent(m.requestId, m.tokens),
    health: (m: Extract<SchedulerMsg, { type: 'health' }>): void => {
      if (m.up) {
        this.#elastic?.actorUp(m.actor);
        this.#down.delete(m.actor);
        this.#restarting.delete(m.actor);
      } else {
        this.#down.add(m.actor);
        if (m.reason === 'restarting') this.#restarting.add(m.actor);
      }
    },
    stats: async (): Promise<SchedulerStats> => ({
      accepted: this.#accepted,
      rejected: this.#rejected,
      ttftCalibration: this.#calibrator.queueScale,
      inFlight: this.#inFlight.size,
      down: [...this.#down],
      predictor: this.#refs.predictor === null ? null : await this.#refs.predictor.ask({ type: 'stats' }, { timeoutMs: 2_000 }),
      routing: this.init.routing,
      promptTree: this.#prefixes.treeStats(),
      creditedTokens: this.#credited,
      prefixTransfers: this.#prefixes.transferStats(),
      routedPromptTokens: this.#routedTokens,
      routingAudit: this.#audit.stats(),
      elastic: this.#elastic?.stats() ?? null,
    }),
  };

  #wire(refs: SchedulerWiring): void {
    this.#refs = { prefill: refs.prefill, decode: refs.decode, colocated: refs.colocated, predictor: refs.predictor };
    const tps = this.init.priorTokensPerSecond;
    this.#prefill = refs.prefill.map((r): PrefillLoad => ({ id: r.name, queuedPromptTokens: 0, queuedRequests: 0, tokensPerSecond: tps }));
    this.#colocated = refs.colocated.map((r) => ({ id: r.name, tokensPerSecond: tps }));
    const total = this.init.totalKvBlocks;
    this.#decode = refs.decode.map((r) => ({
      id: r.name, running: 0, queued: 0, freeKvBlocks: total, totalKvBlocks: total, predictedLongRunning: 0, stepMs: null,
    }));
  }

  #submit(request: WireRequest): SubmitReply {
    const colocated = this.#refs.colocated.length > 0;
    const loads = colocated ? this.#colocatedLedger() : this.#prefill;
    // NOTE: a colocated actor's running decodes slow its next prefill and every one of them suffers
    // the prefill's stall, so colocated requests go to the actor with the fewest outstanding
    // requests (running + queued), as multi-instance routers do; prefill actors by least TTFT.
    // NOTE: an elastic instance's prefill actor takes new prompts only while it serves prefill.
    const routable = colocated || this.#elastic === null ? loads : loads.filter((_l, i) => this.#elastic?.serves('prefill', i) === true);
    const up = routable.filter((l) => !this.#down.has(l.id));
    const healthy = up.length > 0 ? up : routable.filter((l) => this.#restarting.has(l.id));
    if (healthy.length === 0) return this.#unavailable(loads.map((l) => l.id));
    const { credit, transfer } = this.#prefixes.creditFor(request, loads, this.#decode.length);
    const tree = !colocated && this.init.routing === 'prompt-tree';
    // NOTE: rates are pooled and stretched by core sharing over every healthy actor (session routing then keeps its one candidate).
    const rated = colocated ? [] : sharedRate(pooledRate(tree ? this.#ledgerLoads(healthy) : healthy));
    const candidates = colocated ? [leastOutstanding(healthy)] : tree ? rated : this.#candidates(request, rated);
    const route = this.init.routing === 'least-load' ? () => 0 : credit;
    // NOTE: Mooncake's transfer rule belongs to prompt-tree routing (session routing is MemServe's baseline, least-load credits nothing).
    const rule = tree ? transfer : null;
    const picked = choosePrefill(request, candidates, route, rule);
    // NOTE: the admission estimate counts what the chosen actor holds whatever the routing rule.
    const choice = picked === null ? null : choosePrefill(request, candidates.filter((c) => c.id === picked.actorId), credit, rule);
    if (choice === null) return this.#reject(request, 'no serving actor is available');
    // NOTE: an actor with nothing queued is judged on the uncorrected estimate: the correction models
    // queueing and interference, and an engine that rejected everything after a burst would never
    // measure again (admitting into idle queues keeps the calibration's feedback loop open).
    const target = loads.findIndex((l) => l.id === choice.actorId);
    const idle = loads[target].queuedRequests === 0;
    const corrected = idle ? { queueMs: choice.queueMs, ttftMs: choice.ttftMs } : this.#calibrator.correct(choice);
    const decision = admit({ promptTokens: request.promptIds.length }, {
      ttftMs: corrected.ttftMs,
      queueMs: corrected.queueMs,
      tpotMs: colocated ? null : bestDecodeTpotMs(this.#decode, this.#isDown),
      ...queueTotals(loads),
    }, this.init.admission);
    if (!decision.admitted) {
      this.#rejected += 1;
      return { accepted: false, error: decision.error.toJSON() };
    }
    loads[target].queuedRequests += 1;
    loads[target].queuedPromptTokens += request.promptIds.length - choice.cachedTokens;
    this.#credited += picked?.cachedTokens ?? 0;
    this.#routedTokens += request.promptIds.length;
    const prefillTokens = request.promptIds.length - choice.cachedTokens;
    this.#inFlight.set(request.id, { request, estimate: { queueMs: choice.queueMs, prefillMs: choice.transferMs + choice.prefillMs }, target, decode: null, isLong: false, prefillTokens });
    if (tree && this.init.cacheEnabled) this.#prefixes.addPending(request.id, target, request.promptIds);
    if (!colocated) {
      const busyActors = this.#ledgerLoads(healthy).filter((l) => l.queuedRequests > 0).length;
      this.#audit.routed(request.id, { target, queueMs: choice.queueMs, transferMs: choice.transferMs, prefillMs: choice.prefillMs, busyActors });
    }
    this.#accepted += 1;
    this.init.client.tell({ type: 'placed', requestId: request.id, actor: loads[target].id, role: colocated ? 'colocated' : 'prefill' });
    if (colocated) {
      this.#refs.colocated[target].tell({ type: 'submit', request });
      return { accepted: true };
    }
    const awaitsPrefix = choice.transfer !== null && this.#prefixes.sendPrefix(this.#refs, request, Number(choice.transfer.source), target, choice.transfer.tokens);
    this.#refs.prefill[target].tell({ type: 'prefill', request, awaitsPrefix });
    this.#predict(request);
    return { accepted: true };
  }

  /**
   * Prefill loads with each queue from the ledger: prompt tokens routed there, not yet prefilled.
   * NOTE: a report counts a queued turn whole when the turn before it is still queued there, and
   * lags by its interval and trip; the ledger counts what routing credited, current at once.
   */
  #ledgerLoads(loads: readonly PrefillLoad[]): PrefillLoad[] {
    const work = this.#routedWork();
    return loads.map((l) => {
      const w = work.get(this.#prefill.findIndex((p) => p.id === l.id));
      return { ...l, queuedPromptTokens: w?.prefillTokens ?? 0, queuedRequests: w?.prefilling ?? 0 };
    });
  }

  /**
   * Decode loads as routing must see them: each actor's last report plus what routing has sent its
   * way since that the actor cannot report yet (assigned requests still prefilling: they will
   * need a batch slot there), and the predicted-long count from the scheduler's own assignments.
   * NOTE: replacing counts by the last report instead lost every assignment made between two
   * reports, so a burst piled onto the first few actors by id while others sat idle. KV is left
   * as reported: where prefill and decode share a pool, a prefilling sequence's blocks are
   * already counted as used; where they do not, its blocks are allocated when its KV arrives.
   */
  #decodeLedger(): DecodeLoad[] {
    const pending = this.#decode.map(() => ({ requests: 0, longs: 0 }));
    for (const f of this.#inFlight.values()) {
      const p = f.decode === null ? undefined : pending[f.decode];
      if (p === undefined) continue;
      if (f.isLong) p.longs += 1;
      if (f.prefillTokens === null) continue;
      p.requests += 1;
    }
    return this.#decode.map((l, i) => ({ ...l, queued: l.queued + pending[i].requests, predictedLongRunning: pending[i].longs }));
  }

  /** A transfer ended: the waiting prefill actor goes on (with what arrived; it matches its own pool). */
  #prefixSent(requestId: string, tokens: number): void {
    this.#prefixes.prefixSent(requestId, tokens);
    const f = this.#inFlight.get(requestId);
    if (f !== undefined && this.#refs.colocated.length === 0) this.#refs.prefill[f.target]?.tell({ type: 'prefixArrived', requestId });
  }

  /** The actor name of a KV site (as load reports and health name it). */
  #siteActor(site: KvSite): string {
    const loads = site.role === 'decode' ? this.#decode : site.role === 'prefill' ? this.#prefill : this.#colocated;
    return loads[site.index]?.id ?? `${site.role}-${site.index}`;
  }

  /** Session routing: a request with a session goes to the healthy actor its session hashes to; otherwise all are candidates. */
  #candidates(request: WireRequest, healthy: readonly PrefillLoad[]): readonly PrefillLoad[] {
    if (this.init.routing !== 'session' || request.session === undefined) return healthy;
    return [healthy[hashString(request.session) % healthy.length]];
  }

  /** Every actor the request could go to is down: a retryable refusal naming them. */
  #unavailable(actors: string[]): SubmitReply {
    this.#rejected += 1;
    return { accepted: false, error: new UnavailableError({ actors, retryAfterMs: UNAVAILABLE_RETRY_MS }).toJSON() };
  }

  #reject(request: WireRequest, why: string): SubmitReply {
    this.#rejected += 1;
    return { accepted: false, error: new EngineError(`request "${request.id}": ${why}`).toJSON() };
  }

  /** Asks the predictor without waiting on it here; the answer comes back as `predicted`. */
  #predict(request: WireRequest): void {
    const self = this.context.self;
    const predictor = this.#refs.predictor;
    if (predictor === null) {
      self.tell({ type: 'predicted', requestId: request.id, prediction: null });
      return;
    }
    predictor.ask({ type: 'predict', promptIds: request.promptIds }, { timeoutMs: PREDICT_TIMEOUT_MS }).then(
      (prediction) => self.tell({ type: 'predicted', requestId: request.id, prediction }),
      () => self.tell({ type: 'predicted', requestId: request.id, prediction: null }),
    );
  }

  #predicted(requestId: string, prediction: LengthPrediction | null): void {
    const f = this.#inFlight.get(requestId);
    if (f === undefined || f.decode !== null) return;
    const hint = prediction === null ? null : toDecodePrediction(prediction, f.request.maxTokens);
    const loads = this.#decodeLedger();
    const routable = this.#elastic === null ? loads : loads.filter((_d, i) => this.#elastic?.serves('decode', i) === true);
    const healthy = routable.filter((d) => !this.#down.has(d.id));
    const choice = chooseDecode(f.request, hint, healthy.length > 0 ? healthy : routable, { blockSize: this.init.blockSize, maxBatch: this.init.maxBatch });
    const index = choice === null ? this.#elastic?.fallbackDecode() ?? leastLoadedDecode(loads, this.#isDown) : this.#decode.findIndex((d) => d.id === choice.actorId);
    f.decode = index;
    f.isLong = hint?.isLong ?? false;
    this.#refs.prefill[f.target].tell({ type: 'assignDecode', requestId, decode: index });
    this.init.client.tell({ type: 'placed', requestId, actor: this.#decode[index].id, role: 'decode' });
  }

  #abort(requestId: string): void {
    this.#prefixes.settle(requestId);
    this.#audit.forget(requestId);
    const f = this.#inFlight.get(requestId);
    if (f === undefined) {
      // NOTE: unknown here (finished, or this scheduler restarted and lost it): every actor drops it.
      for (const ref of [...this.#refs.prefill, ...this.#refs.decode, ...this.#refs.colocated]) ref.tell({ type: 'abort', requestId });
      return;
    }
    this.#inFlight.delete(requestId);
    this.#elastic?.aborted(requestId);
    if (this.#refs.colocated.length > 0) {
      this.#refs.colocated[f.target].tell({ type: 'abort', requestId });
      return;
    }
    this.#refs.prefill[f.target].tell({ type: 'abort', requestId });
    // NOTE: the decode actor may not be chosen yet; then every decode actor remembers the abort.
    const decoders = f.decode === null ? this.#refs.decode : [this.#refs.decode[f.decode]];
    for (const d of decoders) d.tell({ type: 'abort', requestId });
  }

  /** Folds a measured TTFT into the calibration factor (fresh attempts only: a resumed one's clock started earlier). */
  #calibrate(requestId: string, ttftMs: number): void {
    const f = this.#inFlight.get(requestId);
    if (f !== undefined) f.prefillTokens = null;
    if (f === undefined || f.request.emitted > 0) return this.#audit.forget(requestId);
    this.#calibrator.observe(f.estimate, ttftMs);
    this.#elastic?.firstToken(ttftMs);
    this.#audit.measured(requestId, ttftMs);
  }

  #finished(requestId: string, outputTokens: number): void {
    this.#prefixes.settle(requestId);
    this.#audit.forget(requestId);
    const f = this.#inFlight.get(requestId);
    if (f === undefined) return;
    this.#inFlight.delete(requestId);
    this.#elastic?.finished(f);
    this.#refs.predictor?.tell({ type: 'learn', promptIds: f.request.promptIds, outputTokens });
  }

  /** Latest report of an actor; routing adds what the ledgers know beyond it ({@link #decodeLedger}). */
  #load(report: LoadReport): void {
    if (report.kind === 'prefill') this.#prefill[report.index] = report.load;
    else if (report.kind === 'decode') this.#decode[report.index] = report.load;
    // NOTE: only the rate is taken from a colocated report; its counts come from the ledger.
    else this.#colocated[report.index] = { id: report.load.id, tokensPerSecond: report.load.tokensPerSecond };
  }

  /** Colocated loads as routing sees them: each actor's reported rate, counts from the scheduler's ledger ({@link colocatedRoutingLoad}). */
  #colocatedLedger(): PrefillLoad[] {
    const work = this.#routedWork();
    return this.#colocated.map((l, i) => colocatedRoutingLoad(l, work.get(i) ?? { requests: 0, prefillTokens: 0 }));
  }

  /**
   * The ledger per target actor index: requests routed there and not finished, those of them not
   * prefilled yet (no first token), and the prompt tokens those still have to compute.
   */
  #routedWork(): Map<number, { requests: number; prefilling: number; prefillTokens: number }> {
    const work = new Map<number, { requests: number; prefilling: number; prefillTokens: number }>();
    for (const f of this.#inFlight.values()) {
      const w = work.get(f.target) ?? { requests: 0, prefilling: 0, prefillTokens: 0 };
      w.requests += 1;
      if (f.prefillTokens !== null) {
        w.prefilling += 1;
        w.prefillTokens += f.prefillTokens;
      }
      work.set(f.target, w);
    }
    return work;
  }
}

/** FNV-1a of a string (stable across processes and runs). */
function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
