/**
 * RoutingAudit: how well the scheduler's expected TTFT foresaw the TTFT each request got. For
 * every request routed to a prefill actor it keeps the estimate the choice was made on (queue +
 * transfer + prefill of the uncached suffix) and how many prefill actors had work in the
 * scheduler's ledger at that moment; once the first token is out, the measured TTFT and the
 * estimate are added to the totals of the chosen actor and of the measured TTFT's band (where a
 * P99 comes from: the slowest bands).
 *
 * Invariants: the figures are running sums, so two snapshots subtract to the requests measured
 * between them; requests that never produce a first token (aborted, failed) are dropped with
 * `forget`; resumed attempts are not measured (their clock started with the first attempt).
 */

/** What one routing decision expected. */
export interface RoutedEstimate {
  /** Prefill actor index. */
  target: number;
  queueMs: number;
  transferMs: number;
  prefillMs: number;
  /** Prefill actors with ledger work when it was routed (the chosen one's queue included). */
  busyActors: number;
}

/** Running sums over measured requests. */
export interface AuditTotals {
  requests: number;
  /** Sum of measured TTFTs, ms. */
  measuredMs: number;
  /** Sum of expected TTFTs (queue + transfer + prefill), ms. */
  expectedMs: number;
  /** Sum of the expected queue parts, ms. */
  expectedQueueMs: number;
  /** Sum of busy prefill actors at routing. */
  busyActors: number;
}

/** `stats().scheduler.routingAudit`. */
export interface RoutingAuditStats {
  /** Per prefill actor, by index. */
  perActor: AuditTotals[];
  /** Per band of measured TTFT: up to `upToMs` (null: beyond the last band). */
  byTtft: Array<{ upToMs: number | null; totals: AuditTotals }>;
}

/** Upper bounds of the measured-TTFT bands, ms. */
const BANDS_MS = [50, 100, 200, 500, 1_000, 2_000];

const zero = (): AuditTotals => ({ requests: 0, measuredMs: 0, expectedMs: 0, expectedQueueMs: 0, busyActors: 0 });

/** Routing estimates against measured TTFTs; see the file header. */
export class RoutingAudit {
  readonly #pending = new Map<string, RoutedEstimate>();
  readonly #perActor: AuditTotals[] = [];
  readonly #bands: AuditTotals[] = [...BANDS_MS, null].map(zero);

  /** A request was routed on `estimate`. */
  routed(requestId: string, estimate: RoutedEstimate): void {
    this.#pending.set(requestId, estimate);
  }

  /** Its first token came `ttftMs` after arrival. */
  measured(requestId: string, ttftMs: number): void {
    const e = this.#pending.get(requestId);
    if (e === undefined) return;
    this.#pending.delete(requestId);
    const band = BANDS_MS.findIndex((b) => ttftMs <= b);
    for (let i = 0; i <= e.target; i++) this.#perActor[i] ??= zero();
    for (const t of [this.#perActor[e.target], this.#bands[band < 0 ? BANDS_MS.length : band]]) {
      t.requests += 1;
      t.measuredMs += ttftMs;
      t.expectedMs += e.queueMs + e.transferMs + e.prefillMs;
      t.expectedQueueMs += e.queueMs;
      t.busyActors += e.busyActors;
    }
  }

  /** It ends without a (fresh) first token. */
  forget(requestId: string): void {
    this.#pending.delete(requestId);
  }

  stats(): RoutingAuditStats {
    return {
      perActor: this.#perActor.map((t) => ({ ...t })),
      byTtft: this.#bands.map((t, i) => ({ upToMs: BANDS_MS[i] ?? null, totals: { ...t } })),
    };
  }
}
