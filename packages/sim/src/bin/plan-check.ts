/**
 * `npm run sim:plan-check`: does the plan's recommendation beat the engine's default in a real
 * run? Plans with a profile (as `baton plan`), then runs the recommended configuration and the
 * default one (the engine's and the CLI's defaults for the same devices) for real, on the
 * profile's model — createEngine + the bench's runner, the same seeded requests for both at each
 * rate, the two interleaved and their order alternated — over a ladder of rates spanning both
 * predicted goodputs, `--reps` times. Each repetition gives each configuration a measured goodput
 * (the highest rate of the ladder whose attainment, and every lower one's, is >= 90%); the verdict
 * is the median over repetitions of recommended / default, with its spread, and the attainment at
 * every rate summed over repetitions.
 *
 * Flags: --profile FILE (else a profile of --model, default baton-tiny, on wasm is measured at the
 * start of the run: the plan is made for the machine as loaded now), --profile-out FILE (save it),
 * --workload MIX (default chat), --slo-ttft MS, --slo-tpot MS,
 * --devices N (default 2), --requests N (per run, default 32), --reps N (default 3), --seed S.
 */
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { atRate, attainment, generateWorkload, goodputOf as measuredGoodput, runAtRate, type MixName, type RatePoint } from '@baton/bench';
import { createEngine, type Engine } from '@baton/engine';
import { defaultCandidate, describeCandidate, goodputOf, searchPlacement, type PlanCandidate } from '../plan-search.js';
import { measureProfile } from '../profiler.js';
import { readProfile, type Profile } from '../profile.js';
import { simulate } from '../simulator.js';
import { profileStepTimes } from '../step-times.js';

interface Rig {
  label: 'recommended' | 'default';
  c: PlanCandidate;
  engine: Engine;
  /** Per repetition: attainment at each rate of the ladder. */
  reps: RatePoint[][];
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      profile: { type: 'string' }, workload: { type: 'string' }, 'slo-ttft': { type: 'string' }, 'slo-tpot': { type: 'string' },
      devices: { type: 'string' }, requests: { type: 'string' }, reps: { type: 'string' }, seed: { type: 'string' },
      model: { type: 'string' }, 'profile-out': { type: 'string' },
    },
    strict: true,
  });
  let profile: Profile;
  if (values.profile !== undefined) profile = readProfile(values.profile);
  else {
    const model = values.model ?? 'baton-tiny';
    process.stderr.write(`sim:plan-check: measuring a profile (${model}, wasm) in this run\n`);
    profile = await measureProfile({ model, backend: 'wasm', onProgress: (l) => void process.stderr.write(`  ${l}\n`) });
    if (values['profile-out'] !== undefined) writeFileSync(values['profile-out'], JSON.stringify(profile, null, 1) + '\n');
  }
  const times = profileStepTimes(profile);
  const mix = (values.workload ?? 'chat') as MixName;
  const slo = { ttftMs: Number(values['slo-ttft'] ?? 500), tpotMs: Number(values['slo-tpot'] ?? 8) };
  const devices = Number(values.devices ?? 2);
  const count = Number(values.requests ?? 32);
  const repetitions = Number(values.reps ?? 3);
  const seed = Number(values.seed ?? 1);
  const planned = generateWorkload({ mix, count: 200, seed });
  const results = searchPlacement({ times, requests: planned.requests, slo, devices });
  const best = results[0];
  const base = goodputOf(defaultCandidate(devices), { times, requests: planned.requests, slo, devices });
  const out = (s: string): void => void process.stdout.write(s + '\n');
  out(`sim:plan-check ${new Date().toISOString()} ${mix}, SLO ${slo.ttftMs}/${slo.tpotMs} ms, ${devices} devices, model ${profile.model}/${profile.backend}, ${repetitions} repetitions of ${count} requests per rate, load average ${loadavg()[0].toFixed(1)}`);
  out(`recommended: ${describeCandidate(best.candidate)} predicted goodput ${best.goodput.toFixed(2)} req/s`);
  out(`default:     ${describeCandidate(base.candidate)} predicted goodput ${base.goodput.toFixed(2)} req/s`);
  if (JSON.stringify(best.candidate) === JSON.stringify(base.candidate)) {
    out('verdict: nothing to check (the plan recommends the default configuration)');
    return;
  }
  if (best.goodput === 0) throw new Error(`no configuration reaches 90% attainment at SLO ${slo.ttftMs}/${slo.tpotMs} ms on this profile: loosen the targets`);
  // NOTE: a default predicted to fail every rate still gets a ladder: from a quarter of the other's.
  const lo = Math.min(best.goodput, base.goodput) > 0 ? Math.min(best.goodput, base.goodput) : best.goodput / 4;
  const hi = Math.max(best.goodput, base.goodput);
  // NOTE: a geometric ladder from half the lower prediction to 1.25x the higher one (the machine
  // may run both slower than predicted; goodput is read off this ladder, so it is as coarse).
  const steps = 5;
  const rates = Array.from({ length: steps }, (_, i) => Math.round(lo * 0.5 * ((hi * 1.25) / (lo * 0.5)) ** (i / (steps - 1)) * 100) / 100).filter((r) => r > 0);
  const rigs: Rig[] = [];
  try {
    for (const [label, c] of [['recommended', best.candidate], ['default', base.candidate]] as const) {
      const engine = await createEngine({
        mode: c.mode, prefill: c.prefill, decode: c.decode, colocated: c.colocated, prefillChunkSize: c.prefillChunkSize, tokenBudget: c.tokenBudget, maxBatch: c.maxBatch,
        slo: null, backend: profile.backend === 'wasm' ? 'wasm' : 'auto', model: profile.model,
      });
      rigs.push({ label, c, engine, reps: [] });
      const warm = generateWorkload({ mix, count: 8, seed: 999 });
      await runAtRate({ engine, mode: c.mode, rate: 2, requests: atRate(warm, 2), slo, engineStartMs: performance.timeOrigin + performance.now(), drainMs: 10_000 });
    }
    out('| rep | rate | config | predicted attainment | measured attainment | TTFT p90 ms | TPOT p90 ms |');
    out('|---|---|---|---|---|---|---|');
    let run = 0;
    for (let rep = 0; rep < repetitions; rep++) {
      for (const rig of rigs) rig.reps.push([]);
      for (const rate of rates) {
        // NOTE: fresh prompts per run (the engines keep their prefix caches between runs).
        const requests = atRate(generateWorkload({ mix, count, seed: seed * 1000 + 500 + run }), rate);
        const order = run++ % 2 === 0 ? rigs : [...rigs].reverse();
        for (const rig of order) {
          const real = await runAtRate({ engine: rig.engine, mode: rig.c.mode, rate, requests, slo, engineStartMs: performance.timeOrigin + performance.now(), drainMs: 20_000 });
          const sim = simulate({ config: { ...rig.c }, times, arrivals: requests }).summary(slo);
          const a = attainment(real.records, slo);
          rig.reps[rep].push({ rate, attainment: a });
          out(`| ${rep + 1} | ${rate} | ${rig.label} | ${pct(sim.attainment ?? 0)} | ${pct(a)} | ${f(real.summary.ttftMs.p90)} | ${f(real.summary.tpotMs.p90, 2)} |`);
        }
      }
    }
  } finally {
    await Promise.all(rigs.map((r) => r.engine.close({ deadlineMs: 1_000 })));
  }
  // NOTE: a configuration that fails the lowest rate is credited half of it (a finite ratio).
  const goodputs = rigs.map((rig) => rig.reps.map((points) => measuredGoodput(points) ?? rates[0] / 2));
  for (const [i, rig] of rigs.entries()) out(`measured goodput ${rig.label} (${describeCandidate(rig.c)}) per repetition: ${goodputs[i].map((g) => g.toFixed(2)).join(', ')} req/s`);
  const ratios = goodputs[0].map((g, r) => g / goodputs[1][r]).sort((a, b) => a - b);
  const median = ratios[Math.floor(ratios.length / 2)];
  out(`recommended / default measured goodput: median ${median.toFixed(2)}x (spread ${ratios[0].toFixed(2)}-${ratios[ratios.length - 1].toFixed(2)}x over ${ratios.length} repetitions); predicted ${(best.goodput / Math.max(base.goodput, 1e-9)).toFixed(2)}x`);
  for (const rate of rates) {
    const mean = (rig: Rig): number => rig.reps.reduce((n, points) => n + (points.find((p) => p.rate === rate)?.attainment ?? 0), 0) / rig.reps.length;
    out(`  at ${rate} req/s: mean attainment recommended ${pct(mean(rigs[0]))}, default ${pct(mean(rigs[1]))}`);
  }
  out(`verdict: ${median > 1 ? 'the recommendation beats the default' : 'not shown'} (load average at the end ${loadavg()[0].toFixed(1)})`);
}

function pct(x: number): string {
  return `${(x * 100).toFixed(0)}%`;
}

function f(v: number | null, d = 0): string {
  return v === null ? '-' : v.toFixed(d);
}

await main();
