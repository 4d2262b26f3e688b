import { describe, expect, it } from 'vitest';
import type { EngineStats } from '@baton/engine';
import { elasticGauges } from './elastic-gauges.js';

function render(stats: unknown): string[] {
  const out: string[] = [];
  elasticGauges(stats as EngineStats, (name, _help, rows) => out.push(...rows.map(([l, v]) => `${name}${l} ${v}`)));
  return out;
}

describe('elasticGauges', () => {
  it('roles, flips, last cost, attainment and the latest decision with its reason (escaped)', () => {
    const lines = render({
      scheduler: {
        elastic: {
          mode: 'planner', prefill: 2, decode: 1, completedFlips: 1, scaling: [], instances: [{ index: 0, role: 'prefill', flippingTo: null, retiring: false }, { index: 1, role: 'prefill', flippingTo: null, retiring: false }, { index: 2, role: 'decode', flippingTo: null, retiring: false }],
          flips: [{ instance: 1, from: 'decode', to: 'prefill', reason: 'r', policy: 'handover', decidedMs: 0, servingMs: 7, costMs: 7, handedOver: 2, drained: 0, requeued: 0 }],
        },
      },
      planner: { ttftAttainment: 0.5, tpotAttainment: 1, samples: 9, holding: null, decisions: [{ timeMs: 0, instance: 1, from: 'decode', to: 'prefill', reason: 'TTFT "50%"', accepted: true }] },
    });
    expect(lines).toContain('baton_elastic_instances{role="prefill"} 2');
    expect(lines).toContain('baton_elastic_flips 1');
    expect(lines).toContain('baton_elastic_last_flip_cost_ms{instance="1",to="prefill",policy="handover"} 7');
    expect(lines).toContain('baton_planner_attainment{slo="ttft"} 0.5');
    expect(lines).toContain('baton_planner_last_decision{instance="1",to="prefill",accepted="true",reason="TTFT \\"50%\\""} 1');
  });

  it('nothing for fixed roles', () => {
    expect(render({ scheduler: { elastic: null }, planner: null })).toEqual([]);
  });
});
