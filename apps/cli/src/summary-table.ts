/**
 * The demo's closing report: one row per request (prompt and output tokens, TTFT, TPOT, finish,
 * the start of its escaped text), p50/p90 of TTFT and TPOT, one row per actor (utilization, mean
 * batch size, preemptions), prefix-cache hits and length-predictor accuracy. Pure: outcome in,
 * printable lines out.
 */
import { distribution, type EngineStats } from '@baton/engine';
import type { DemoOutcome, RequestProgress } from './demo-session.js';
import { escapeBytes } from './escape-text.js';
import { formatTable, ms, pct } from './text-table.js';

const TEXT_COLUMNS = 36;

/** Renders the summary of a finished demo run. */
export function renderSummary(o: DemoOutcome): string[] {
  return [
    `summary: ${o.requests.length} requests in ${(o.elapsedMs / 1000).toFixed(1)} s${o.interrupted ? ' (interrupted: unfinished requests were aborted)' : ''}`,
    '',
    ...requestTable(o.requests),
    '',
    ...latencyLines(o.requests),
    '',
    ...actorTable(o.stats),
    '',
    ...cacheLines(o.stats),
  ];
}

function requestTable(requests: readonly RequestProgress[]): string[] {
  const rows = requests.map((p) => {
    const m = p.result?.metrics;
    return [
      p.request.id, p.request.kind, String(p.promptTokens), String(p.ids.length), ms(m?.ttftMs), ms(m?.tpotMs, 1),
      p.state === 'aborted' ? 'aborted' : p.result?.finishReason ?? p.state, escapeBytes(Uint8Array.from(p.bytes), { maxWidth: TEXT_COLUMNS }),
    ];
  });
  return formatTable(
    [{ header: 'req' }, { header: 'kind' }, { header: 'prompt tok', align: 'right' }, { header: 'output tok', align: 'right' },
      { header: 'TTFT ms', align: 'right' }, { header: 'TPOT ms', align: 'right' }, { header: 'finish' }, { header: 'text (escaped)' }],
    rows,
  );
}

function latencyLines(requests: readonly RequestProgress[]): string[] {
  const metrics = requests.flatMap((p) => (p.result === null ? [] : [p.result.metrics]));
  const ttft = distribution(metrics.flatMap((m) => (m.ttftMs === null ? [] : [m.ttftMs])));
  const tpot = distribution(metrics.flatMap((m) => (m.tpotMs === null ? [] : [m.tpotMs])));
  return formatTable(
    [{ header: 'latency' }, { header: 'p50 ms', align: 'right' }, { header: 'p90 ms', align: 'right' }, { header: 'max ms', align: 'right' }, { header: 'n', align: 'right' }],
    [
      ['TTFT', ms(ttft.p50), ms(ttft.p90), ms(ttft.max), String(ttft.count)],
      ['TPOT', ms(tpot.p50, 1), ms(tpot.p90, 1), ms(tpot.max, 1), String(tpot.count)],
    ],
  );
}

function actorTable(stats: EngineStats): string[] {
  return formatTable(
    [{ header: 'actor' }, { header: 'role' }, { header: 'util', align: 'right' }, { header: 'steps', align: 'right' },
      { header: 'mean batch', align: 'right' }, { header: 'max batch', align: 'right' }, { header: 'tokens', align: 'right' },
      { header: 'preemptions', align: 'right' }],
    stats.actors.map((a) => [
      a.name, a.role, pct(a.utilization), String(a.steps), a.meanBatchSize === null ? '—' : a.meanBatchSize.toFixed(1),
      String(a.maxBatchSize), String(a.tokensProcessed), String(a.preemptions),
    ]),
  );
}

function cacheLines(stats: EngineStats): string[] {
  const pool = stats.pool;
  const lookups = pool.hits + pool.misses;
  const cache = `prefix cache: ${pool.hits}/${lookups} full blocks hit (${pct(lookups === 0 ? null : pool.hits / lookups)}), ` +
    `${pool.cached} blocks cached, ${pool.evictions} evicted`;
  const p = stats.scheduler.predictor;
  const buckets = (p?.buckets ?? []).filter((b) => b.support > 0).map((b) => `${b.range.min}-${b.range.max ?? '∞'} tok: ${b.correct}/${b.support}`);
  const predictor = p === null
    ? 'length predictor: not used in this mode'
    : `length predictor: ${pct(p.accuracy)} of ${p.examples} finished requests in the predicted bucket` +
      (buckets.length > 0 ? ` (${buckets.join(', ')})` : '');
  return [cache, predictor];
}
