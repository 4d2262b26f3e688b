/**
 * `npm run sim:plan-check`: does the plan's recommendation beat the engine's default in a real
 * run? Plans with a profile (as `baton plan`), then runs the recommended and the default
 * configuration for real (createEngine + the bench's runner, the same seeded requests for both,
 * interleaved per rate) at rates around both predicted goodputs, and prints predicted vs measured
 * attainment and the measured goodput (highest rate tried whose attainment, and every lower one's,
 * is >= 90%).
 *
 * Flags: --profile FILE (required), --workload MIX (default chat), --slo-ttft MS, --slo-tpot MS,
 * --devices N (default 2), --requests N (per run, default 48), --seed S.
 */
import { parseArgs } from 'node:util';
import { atRate, attainment, generateWorkload, goodputOf as measuredGoodput, runAtRate, type MixName } from '@baton/bench';
import { createEngine, type Engine } from '@baton/engine';
import { defaultCandidate, describeCandidate, goodputOf, searchPlacement, type PlanCandidate } from '../plan-search.js';
import { readProfile } from '../profile.js';
import { simulate } from '../simulator.js';
import { profileStepTimes } from '../step-times.js';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { profile: { type: 'string' }, workload: { type: 'string' }, 'slo-ttft': { type: 'string' }, 'slo-tpot': { type: 'string' }, devices: { type: 'string' }, requests: { type: 'string' }, seed: { type: 'string' } },
    strict: true,
  });
  if (values.profile === undefined) throw new Error('--profile FILE is required');
  const times = profileStepTimes(readProfile(values.profile));
  const mix = (values.workload ?? 'chat') as MixName;
  const slo = { ttftMs: Number(values['slo-ttft'] ?? 500), tpotMs: Number(values['slo-tpot'] ?? 8) };
  const devices = Number(values.devices ?? 2);
  const count = Number(values.requests ?? 48);
  const seed = Number(values.seed ?? 1);
  const planned = generateWorkload({ mix, count: 200, seed });
  const results = searchPlacement({ times, requests: planned.requests, slo, devices });
  const best = results[0];
  const base = goodputOf(defaultCandidate(devices), { times, requests: planned.requests, slo, devices });
  const out = (s: string): void => void process.stdout.write(s + '\n');
  out(`sim:plan-check ${new Date().toISOString()} ${mix}, SLO ${slo.ttftMs}/${slo.tpotMs} ms, ${devices} devices`);
  out(`recommended: ${describeCandidate(best.candidate)} predicted goodput ${best.goodput.toFixed(2)} req/s`);
  out(`default:     ${describeCandidate(base.candidate)} predicted goodput ${base.goodput.toFixed(2)} req/s`);
  const lo = Math.min(best.goodput, base.goodput);
  const hi = Math.max(best.goodput, base.goodput);
  const rates = [...new Set([lo * 0.75, lo, (lo + hi) / 2, hi, hi * 1.25].map((r) => Math.round(r * 100) / 100))].filter((r) => r > 0);
  const rigs: Array<{ label: string; c: PlanCandidate; engine: Engine; points: Array<{ rate: number; attainment: number }> }> = [];
  try {
    for (const [label, c] of [['recommended', best.candidate], ['default', base.candidate]] as const) {
      const engine = await createEngine({ mode: c.mode, prefill: c.prefill, decode: c.decode, colocated: c.colocated, prefillChunkSize: c.prefillChunkSize, tokenBudget: c.tokenBudget, maxBatch: c.maxBatch, slo: null, backend: 'wasm' });
      rigs.push({ label, c, engine, points: [] });
      const warm = generateWorkload({ mix, count: 8, seed: 999 });
      await runAtRate({ engine, mode: c.mode, rate: 2, requests: atRate(warm, 2), slo, engineStartMs: performance.timeOrigin + performance.now(), drainMs: 10_000 });
    }
    out('| rate | config | predicted attainment | measured attainment | TTFT p90 ms | TPOT p90 ms |');
    out('|---|---|---|---|---|---|');
    let run = 0;
    for (const rate of rates) {
      const requests = atRate(generateWorkload({ mix, count, seed: seed * 1000 + 500 + run++ }), rate);
      for (const rig of rigs) {
        const real = await runAtRate({ engine: rig.engine, mode: rig.c.mode, rate, requests, slo, engineStartMs: performance.timeOrigin + performance.now(), drainMs: 20_000 });
        const sim = simulate({ config: { ...rig.c }, times, arrivals: requests }).summary(slo);
        const a = attainment(real.records, slo);
        rig.points.push({ rate, attainment: a });
        out(`| ${rate} | ${rig.label} | ${pct(sim.attainment ?? 0)} | ${pct(a)} | ${f(real.summary.ttftMs.p90)} | ${f(real.summary.tpotMs.p90, 2)} |`);
      }
    }
  } finally {
    await Promise.all(rigs.map((r) => r.engine.close({ deadlineMs: 1_000 })));
  }
  for (const rig of rigs) out(`measured goodput ${rig.label} (${describeCandidate(rig.c)}): ${measuredGoodput(rig.points) ?? `< ${rates[0]}`} req/s`);
}

function pct(x: number): string {
  return `${(x * 100).toFixed(0)}%`;
}

function f(v: number | null, d = 0): string {
  return v === null ? '-' : v.toFixed(d);
}

await main();
