/**
 * RequestLog: what the simulator measured per request, in growable typed arrays (an hour of
 * traffic at scale is millions of requests), and its summary — TTFT, TPOT, JCT percentiles and SLO
 * attainment with exactly the definitions the bench uses (a request that did not finish fails;
 * a one-token request has no TPOT and passes that half).
 */
import { distribution, meetsSlo, type Distribution, type SloTargets } from '@baton/engine';
import type { SimOutcome, SimRequest } from './sim-request.js';

const OUTCOMES: readonly SimOutcome[] = ['finished', 'rejected', 'failed', 'aborted'];

/** Summary of a simulated run. */
export interface SimSummary {
  requests: number;
  outcomes: Record<SimOutcome, number>;
  ttftMs: Distribution;
  tpotMs: Distribution;
  jctMs: Distribution;
  queueMs: Distribution;
  kvTransferMs: Distribution;
  /** Share of all requests that finished within both targets; null without targets. */
  attainment: number | null;
}

/** Per-request measurements. */
export class RequestLog {
  #n = 0;
  #index = new Int32Array(1024);
  #outcome = new Uint8Array(1024);
  #ttft = new Float64Array(1024);
  #tpot = new Float64Array(1024);
  #jct = new Float64Array(1024);
  #queue = new Float64Array(1024);
  #kv = new Float64Array(1024);

  get size(): number {
    return this.#n;
  }

  /** Records a request that has ended (NaN marks a metric it does not have). */
  add(r: SimRequest, outcome: SimOutcome): void {
    if (this.#n === this.#index.length) this.#grow();
    const i = this.#n++;
    const first = r.firstTokenMs;
    const last = r.lastTokenMs;
    this.#index[i] = r.index;
    this.#outcome[i] = OUTCOMES.indexOf(outcome);
    this.#ttft[i] = first === null ? NaN : first - r.arrivalMs;
    this.#tpot[i] = first !== null && last !== null && r.emitted >= 2 ? (last - first) / (r.emitted - 1) : NaN;
    this.#jct[i] = last === null ? NaN : last - r.arrivalMs;
    this.#queue[i] = r.prefillStartMs === null ? NaN : r.prefillStartMs - r.arrivalMs;
    this.#kv[i] = r.kvStartMs === null || r.kvEndMs === null ? NaN : r.kvEndMs - r.kvStartMs;
  }

  /** One request's metrics by log position. */
  at(i: number): { index: number; outcome: SimOutcome; ttftMs: number | null; tpotMs: number | null } {
    return { index: this.#index[i], outcome: OUTCOMES[this.#outcome[i]], ttftMs: nullable(this.#ttft[i]), tpotMs: nullable(this.#tpot[i]) };
  }

  /** Share of requests that finished within `slo`. */
  attainment(slo: SloTargets): number {
    if (this.#n === 0) return 0;
    let ok = 0;
    for (let i = 0; i < this.#n; i++) if (this.#met(i, slo)) ok++;
    return ok / this.#n;
  }

  /** Summary over every request. */
  summary(slo: SloTargets | null): SimSummary {
    const outcomes: Record<SimOutcome, number> = { finished: 0, rejected: 0, failed: 0, aborted: 0 };
    for (let i = 0; i < this.#n; i++) outcomes[OUTCOMES[this.#outcome[i]]]++;
    const dist = (a: Float64Array): Distribution => distribution(Array.from(a.subarray(0, this.#n)).filter((v) => !Number.isNaN(v)));
    return {
      requests: this.#n,
      outcomes,
      ttftMs: dist(this.#ttft),
      tpotMs: dist(this.#tpot),
      jctMs: dist(this.#jct),
      queueMs: dist(this.#queue),
      kvTransferMs: dist(this.#kv),
      attainment: slo === null ? null : this.attainment(slo),
    };
  }

  #met(i: number, slo: SloTargets): boolean {
    if (this.#outcome[i] !== 0) return false;
    return meetsSlo({ id: '', outputTokens: 0, ttftMs: nullable(this.#ttft[i]), tpotMs: nullable(this.#tpot[i]), itlMs: [], jctMs: null, queueMs: null, kvTransferMs: null, finishReason: 'length' }, slo);
  }

  #grow(): void {
    const n = this.#index.length * 2;
    const grow = <T extends Int32Array | Uint8Array | Float64Array>(a: T, make: (n: number) => T): T => {
      const b = make(n);
      b.set(a);
      return b;
    };
    this.#index = grow(this.#index, (k) => new Int32Array(k));
    this.#outcome = grow(this.#outcome, (k) => new Uint8Array(k));
    this.#ttft = grow(this.#ttft, (k) => new Float64Array(k));
    this.#tpot = grow(this.#tpot, (k) => new Float64Array(k));
    this.#jct = grow(this.#jct, (k) => new Float64Array(k));
    this.#queue = grow(this.#queue, (k) => new Float64Array(k));
    this.#kv = grow(this.#kv, (k) => new Float64Array(k));
  }
}

function nullable(v: number): number | null {
  return Number.isNaN(v) ? null : v;
}
