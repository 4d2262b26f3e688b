// The engine flags as createEngine options, and the errors for misapplied ones (no engine started).
import { describe, expect, it } from 'vitest';
import { engineOptionsFromFlags, parseElastic } from './engine-flags.js';

const counts = { prefill: 2, decode: 2, colocated: 2 };

describe('engine flags', () => {
  it('--elastic planner gives the planner its targets', () => {
    const options = engineOptionsFromFlags({ elastic: 'planner', 'planner-ttft': '500', 'planner-tpot': '40' }, 'disaggregated', counts);
    expect(options.elastic).toEqual({ mode: 'planner', slo: { ttftMs: 500, tpotMs: 40 } });
  });

  it('--elastic fixed or no flag leaves the roles fixed', () => {
    expect(engineOptionsFromFlags({ elastic: 'fixed' }, 'disaggregated', counts).elastic).toBeUndefined();
    expect(engineOptionsFromFlags({}, 'disaggregated', counts).elastic).toBeUndefined();
  });

  it('names what is wrong with a misapplied or incomplete elastic flag', () => {
    expect(() => parseElastic({ elastic: 'sometimes' })).toThrow(/--elastic: expected one of fixed \| planner, got "sometimes"/);
    expect(() => parseElastic({ elastic: 'planner', 'planner-ttft': '500' })).toThrow(/--planner-tpot: required with --elastic planner/);
    expect(() => parseElastic({ 'planner-tpot': '40' })).toThrow(/--planner-tpot: applies to --elastic planner only/);
    expect(() => parseElastic({ elastic: 'planner', 'planner-ttft': '0', 'planner-tpot': '40' })).toThrow(/--planner-ttft: expected a number > 0/);
    expect(() => engineOptionsFromFlags({ elastic: 'planner' }, 'colocated', counts)).toThrow(/--elastic: applies to --mode disaggregated only/);
  });
});
