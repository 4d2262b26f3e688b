import { describe, expect, it } from 'vitest';
import { formatTables, summaryJson, type ReportContext } from './bench-report.js';
import type { SuiteResult } from './bench-suite.js';

const CTX: ReportContext = { command: 'baton bench --quick', date: '2026-12-03T00:00:00Z', workload: 'chat', slo: { ttftMs: 250, tpotMs: 2 }, requestsPerRate: 64, loadAverage: [1, 1, 1] };
const latency = { p50: 10, p90: 20 };

/** A suite whose quick runs sent 24 requests at 2 req/s and 64 at 8 req/s (the workload holds 64). */
function quickSuite(): SuiteResult {
  const run = (rate: number, n: number) => ({
    mode: 'colocated', rate, records: Array.from({ length: n }, () => ({})), summary: { ttftMs: latency, tpotMs: latency },
    attainment: 1, attainmentUpper: 1, stoppedEarly: false, wallMs: 1, actors: [],
  });
  const mode = { mode: 'colocated', label: 'colocated', workers: '2x colocated', goodput: 8, points: [{ rate: 2, attainment: 1 }, { rate: 8, attainment: 1 }], runs: [run(2, 24), run(8, 64)] };
  // NOTE: only the fields the report reads are filled in.
  return { modes: [mode], referenceRate: 8, sweeps: [{ mode: 'colocated', sweep: null }] } as unknown as SuiteResult;
}

describe('bench report', () => {
  it('states the requests the runs really sent, per rate, not the workload size', () => {
    const text = formatTables(quickSuite(), CTX);
    expect(text.split('\n')[0]).toContain(', 24-64 requests per rate,');
    const table = text.split('\n').filter((l) => /^(rate|2|8)\s/.test(l));
    expect(table[0]).toMatch(/^rate\s+requests\s+colocated/);
    expect(table[1]).toMatch(/^2\s+24\s+100%/);
    expect(table[2]).toMatch(/^8\s+64\s+100%/);
    const json = summaryJson(quickSuite(), CTX) as { modes: Array<{ runs: Array<{ requests: number }> }> };
    expect(json.modes[0].runs.map((r) => r.requests)).toEqual([24, 64]);
  });
});
