/**
 * Prometheus gauges of elastic prefill:decode: instances per role (and flipping), completed flips,
 * the latest flip's cost, the planner's window attainment and its latest decision with the reason.
 * Emits nothing for an engine whose roles are fixed.
 */
import type { EngineStats } from '@baton/engine';

/** Appends `name` gauge lines (HELP, TYPE, one per row) to `out`. */
type Gauge = (name: string, help: string, rows: Array<[string, number]>) => void;

/** Writes the elastic gauges of `stats` through `gauge`. */
export function elasticGauges(stats: EngineStats, gauge: Gauge): void {
  const e = stats.scheduler.elastic;
  if (e === null || e === undefined) return;
  const flipping = e.instances.filter((i) => i.flippingTo !== null).length;
  gauge('baton_elastic_instances', 'Elastic instances by the role they serve (flipping: changing role now).', [
    ['{role="prefill"}', e.prefill], ['{role="decode"}', e.decode], ['{role="flipping"}', flipping],
  ]);
  gauge('baton_elastic_flips', 'Role flips completed since start.', [['', e.completedFlips]]);
  const last = e.flips[e.flips.length - 1];
  if (last !== undefined) {
    gauge('baton_elastic_last_flip_cost_ms', 'Decision to serving in the new role, latest flip (ms).', [[`{instance="${last.instance}",to="${last.to}",policy="${last.policy}"}`, last.costMs]]);
  }
  const p = stats.planner;
  if (p === null || p === undefined) return;
  gauge('baton_planner_attainment', 'SLO attainment over the planner window (absent below its minimum samples).', [
    ...(p.ttftAttainment === null ? [] : [['{slo="ttft"}', p.ttftAttainment] as [string, number]]),
    ...(p.tpotAttainment === null ? [] : [['{slo="tpot"}', p.tpotAttainment] as [string, number]]),
  ]);
  gauge('baton_planner_decisions', 'Flips, spawns and retirements the planner decided (accepted or refused) since start, latest kept.', [['', p.decisions.length]]);
  const d = p.decisions[p.decisions.length - 1];
  if (d !== undefined) {
    gauge('baton_planner_last_decision', 'The planner\'s latest decision (1), labelled with its reason.', [
      [`{instance="${d.instance ?? ''}",to="${d.to ?? 'retired'}",accepted="${d.accepted}",reason="${escapeLabel(d.reason)}"}`, 1],
    ]);
  }
}

/** A Prometheus label value: backslash, double quote and newline escaped. */
function escapeLabel(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
