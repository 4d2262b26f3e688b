/**
 * ServerMetrics: what `GET /metrics` exposes in the Prometheus text format — requests by endpoint
 * and outcome, TTFT and TPOT histograms (ms: arrival to first token; mean gap between later
 * tokens), and live gauges read from `engine.stats()`: queue length, running sequences, KV blocks
 * used and utilization per actor, plus the KV pool's block counts and, per actor that keeps
 * cached-prefix tiers, blocks, hits and bytes per tier (hot, host, disk).
 *
 * Invariant: a request is counted exactly once, under its final outcome.
 */
import { Histogram, type EngineStats, type RequestMetrics } from '@baton/engine';
import { elasticGauges } from './elastic-gauges.js';

/** How a request ended, from the server's point of view. */
export type RequestOutcome = 'length' | 'stop' | 'abort' | 'error' | 'invalid' | 'overloaded' | 'unavailable';

/** Which endpoint served it. */
export type Endpoint = 'completions' | 'chat';

const OUTCOMES: readonly RequestOutcome[] = ['length', 'stop', 'abort', 'error', 'invalid', 'overloaded', 'unavailable'];
const ENDPOINTS: readonly Endpoint[] = ['completions', 'chat'];

/** Counters and histograms of one server. */
export class ServerMetrics {
  readonly #counts = new Map<string, number>();
  readonly #ttft = new Histogram();
  readonly #tpot = new Histogram();

  /** Counts one finished request. */
  count(endpoint: Endpoint, outcome: RequestOutcome): void {
    const key = `${endpoint}/${outcome}`;
    this.#counts.set(key, (this.#counts.get(key) ?? 0) + 1);
  }

  /** Adds a finished request's latencies. */
  observe(metrics: RequestMetrics): void {
    if (metrics.ttftMs !== null) this.#ttft.observe(metrics.ttftMs);
    if (metrics.tpotMs !== null) this.#tpot.observe(metrics.tpotMs);
  }

  /** The exposition text; `stats` is null when the engine could not be asked (closing). */
  render(stats: EngineStats | null): string {
    const out: string[] = [
      '# HELP baton_requests_total Requests served, by endpoint and outcome.',
      '# TYPE baton_requests_total counter',
    ];
    for (const endpoint of ENDPOINTS) {
      for (const outcome of OUTCOMES) {
        out.push(`baton_requests_total{endpoint="${endpoint}",outcome="${outcome}"} ${this.#counts.get(`${endpoint}/${outcome}`) ?? 0}`);
      }
    }
    out.push('# HELP baton_ttft_ms Time to first token (ms): first token time - arrival time.', '# TYPE baton_ttft_ms histogram');
    out.push(this.#ttft.toPrometheus('baton_ttft_ms'));
    out.push('# HELP baton_tpot_ms Time per output token (ms), per request.', '# TYPE baton_tpot_ms histogram');
    out.push(this.#tpot.toPrometheus('baton_tpot_ms'));
    if (stats !== null) out.push(...engineGauges(stats));
    return out.join('\n') + '\n';
  }
}

function engineGauges(stats: EngineStats): string[] {
  const out: string[] = [];
  const gauge = (name: string, help: string, rows: Array<[string, number]>): void => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, ...rows.map(([labels, v]) => `${name}${labels} ${v}`));
  };
  const actor = (a: EngineStats['actors'][number]): string => `{actor="${a.name}",role="${a.role}"}`;
  gauge('baton_actor_queue_length', 'Requests waiting at the actor.', stats.actors.map((a) => [actor(a), a.queueLength]));
  gauge('baton_actor_running', 'Sequences the actor is running.', stats.actors.map((a) => [actor(a), a.running]));
  gauge('baton_actor_kv_blocks_used', 'KV blocks held by the actor.', stats.actors.map((a) => [actor(a), a.kvBlocksUsed]));
  gauge('baton_actor_utilization', 'Busy share of the actor since start (0..1).', stats.actors.map((a) => [actor(a), a.utilization]));
  const pool = stats.pool;
  gauge('baton_kv_pool_blocks', 'KV pool blocks by state.', [
    ['{state="free"}', pool.free], ['{state="used"}', pool.used], ['{state="cached"}', pool.cached],
  ]);
  gauge('baton_requests_in_flight', 'Requests the engine is serving.', [['', stats.active]]);
  // NOTE: context-caching tiers of the actors that keep them (prefill actors with caching on).
  const tiered = stats.actors.flatMap((a) => (a.tiers === null ? [] : [{ a, t: a.tiers }]));
  const tier = (a: EngineStats['actors'][number], name: string): string => `{actor="${a.name}",role="${a.role}",tier="${name}"}`;
  gauge('baton_kv_tier_blocks', 'Cached prefix blocks per tier (hot: indexed in the pool).', tiered.flatMap(({ a, t }): Array<[string, number]> => [
    [tier(a, 'hot'), t.hot.indexed], [tier(a, 'host'), t.host.blocks], ...(t.disk === null ? [] : [[tier(a, 'disk'), t.disk.blocks] as [string, number]]),
  ]));
  gauge('baton_kv_tier_hits', 'Cached blocks reused per tier since start.', tiered.flatMap(({ a, t }): Array<[string, number]> => [
    [tier(a, 'hot'), t.hot.hits], [tier(a, 'host'), t.host.hits], ...(t.disk === null ? [] : [[tier(a, 'disk'), t.disk.hits] as [string, number]]),
  ]));
  gauge('baton_kv_tier_bytes', 'Bytes held by the lower tiers.', tiered.flatMap(({ a, t }): Array<[string, number]> => [
    [tier(a, 'host'), t.host.bytes], ...(t.disk === null ? [] : [[tier(a, 'disk'), t.disk.bytes] as [string, number]]),
  ]));
  elasticGauges(stats, gauge);
  return out;
}
