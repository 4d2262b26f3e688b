import { describe, expect, it } from 'vitest';
import type { EngineStats } from '@baton/engine';
import { elasticLines } from './elastic-lines.js';

const elastic = {
  mode: 'planner', prefill: 1, decode: 1, completedFlips: 1, scaling: [],
  instances: [{ index: 0, role: 'prefill', flippingTo: null, retiring: false }, { index: 1, role: 'decode', flippingTo: null, retiring: false }, { index: 2, role: 'decode', flippingTo: 'prefill', retiring: false }],
  flips: [{ instance: 1, from: 'prefill', to: 'decode', reason: 'decode step 80 ms > TPOT target 50 ms', policy: 'handover', decidedMs: 0, servingMs: 12, costMs: 12, handedOver: 0, drained: 0, requeued: 3 }],
};
const planner = { ttftAttainment: 0.8, tpotAttainment: null, samples: 12, holding: 'a flip is in progress', decisions: [] };

describe('elasticLines', () => {
  it('shows roles, the flipping instance, the last flip and the planner', () => {
    const lines = elasticLines({ scheduler: { elastic }, planner } as unknown as EngineStats);
    expect(lines[0]).toBe('elastic planner: 1P:1D  [0:P 1:D 2:D→P]  last flip: 1 prefill→decode in 12 ms (0 handed over, 0 drained, 3 requeued)');
    expect(lines[1]).toBe('planner: TTFT 80% TPOT — over 12 req  holding: a flip is in progress');
  });

  it('is empty for fixed roles and before the first stats', () => {
    expect(elasticLines(null)).toEqual([]);
    expect(elasticLines({ scheduler: { elastic: null }, planner: null } as unknown as EngineStats)).toEqual([]);
  });
});
