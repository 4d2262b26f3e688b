import { describe, expect, it } from 'vitest';
import { summarize } from '@baton/engine';
import { runSuite } from './bench-suite.js';
import type { Rig } from './rig.js';
import type { RunResult } from './runner.js';
import { fixedSlo } from './slo-spec.js';

const SLO = fixedSlo({ ttftMs: 100, tpotMs: 10 });

/** A rig whose runs only log their order (the suite's scheduling is what is tested, not an engine). */
function loggingRig(name: 'disaggregated' | 'colocated' | 'chunked', log: string[]): Rig {
  return {
    spec: { label: name, mode: name, workers: '1', engine: {} },
    engine: null as never, engineStartMs: 0, runs: [],
    measure: async (rate) => {
      log.push(`${name}@${rate}`);
      const r: RunResult = { mode: name, rate, records: [], summary: summarize([], { slo: SLO.nominal }), attainment: 1, attainmentUpper: 1, stoppedEarly: false, wallMs: 0, actors: [] };
      return r;
    },
    close: async () => undefined,
  };
}

describe('runSuite with fixed rates', () => {
  it('runs every rig at every rate, the first rig rotating with the rate and the repetition', async () => {
    const log: string[] = [];
    const rigs = [loggingRig('disaggregated', log), loggingRig('colocated', log), loggingRig('chunked', log)];
    const result = await runSuite({ rigs, slo: SLO, rates: { kind: 'list', rates: [1, 2] }, rotation: 1 });
    expect(log).toEqual(['colocated@1', 'chunked@1', 'disaggregated@1', 'chunked@2', 'disaggregated@2', 'colocated@2']);
    expect(result.modes.map((m) => m.runs.map((r) => r.rate))).toEqual([[1, 2], [1, 2], [1, 2]]);
    expect(result.byRate.map((b) => b.rate)).toEqual([1, 2]);
  });
});
