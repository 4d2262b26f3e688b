/**
 * `npm run sim:validate`: the simulator against real runs. For each workload, mode and rate, one
 * real run (createEngine + the bench's runner, seeded requests) and one simulation of exactly the
 * same requests on a profile measured at the start of the same run; prints TTFT p50/p90, TPOT
 * p50/p90 and SLO attainment side by side with the errors. Modes are interleaved per rate (a burst
 * of load from elsewhere falls on every mode alike); every engine is closed, also on failure.
 *
 * Flags: --profile FILE (use a saved profile instead of measuring one), --quick (one workload,
 * two rates), --only chat,generate (a subset of the workloads), --rates 0.5,1 and --requests N
 * (replace each chosen workload's rates and request count: a loaded machine saturates far below
 * the defaults), --json FILE (every row as JSON, rewritten after each row), --profile-out FILE (save
 * the profile measured in the run), --cpu shared|own (the simulation's instances share the
 * profile's machine, as the engine's threads do, or each has its own), --profile-quick (measure it with fewer samples, ~4x faster),
 * --seed S, --replay FILE (re-simulate the runs of an earlier --json file against its real
 * figures and profile: the requests are regenerated from the same seeds; no real run), --engine
 * on|off (charge the profile's measured engine path, the default, or only its model calls).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { atRate, attainment, generateWorkload, runAtRate, type BenchRequest, type MixName, type RunResult } from '@baton/bench';
import { createEngine, summarize, type Engine, type SloTargets } from '@baton/engine';
import { measureProfile } from '../profiler.js';
import { parseProfile, readProfile, type Profile } from '../profile.js';
import { simulate } from '../simulator.js';
import { profileStepTimes } from '../step-times.js';
import { formatValidation, formatValidationScore, type ValidationRow } from '../validation-table.js';

type Mode = 'disaggregated' | 'colocated' | 'chunked';
const MODES: readonly Mode[] = ['disaggregated', 'colocated', 'chunked'];

/** What each workload is run at: SLO (the bench's scale for this machine), rates, requests per run. */
const PLAN: ReadonlyArray<{ mix: MixName; slo: SloTargets; rates: number[]; count: number }> = [
  { mix: 'chat', slo: { ttftMs: 250, tpotMs: 2 }, rates: [2, 4, 6], count: 48 },
  { mix: 'generate', slo: { ttftMs: 250, tpotMs: 4 }, rates: [2, 4, 8], count: 48 },
  { mix: 'summarize', slo: { ttftMs: 800, tpotMs: 4 }, rates: [0.5, 1, 2], count: 24 },
];

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      profile: { type: 'string' }, quick: { type: 'boolean' }, json: { type: 'string' }, seed: { type: 'string' }, only: { type: 'string' }, replay: { type: 'string' },
      rates: { type: 'string' }, requests: { type: 'string' }, 'profile-out': { type: 'string' }, 'profile-quick': { type: 'boolean' }, cpu: { type: 'string' }, engine: { type: 'string' },
    },
    strict: true,
  });
  const cpu = values.cpu ?? 'shared';
  if (cpu !== 'shared' && cpu !== 'own') throw new Error(`--cpu: expected shared or own, got "${cpu}"`);
  const engineOn = (values.engine ?? 'on') === 'on';
  if (values.engine !== undefined && values.engine !== 'on' && values.engine !== 'off') throw new Error(`--engine: expected on or off, got "${values.engine}"`);
  if (values.replay !== undefined) return replay(values.replay, Number(values.seed ?? '1'), cpu, engineOn, values.json);
  const seed = Number(values.seed ?? '1');
  const load = { start: loadavg().map((l) => Number(l.toFixed(2))), end: null as number[] | null, startedAt: new Date().toISOString() };
  const log = (s: string): void => void process.stderr.write(`sim:validate: ${s}\n`);
  let profile: Profile;
  if (values.profile !== undefined) profile = readProfile(values.profile);
  else {
    log('measuring a profile (baton-tiny, wasm) in this run');
    profile = await measureProfile({ model: 'baton-tiny', backend: 'wasm', quick: values['profile-quick'] === true, onProgress: (l) => log(`  ${l}`) });
    if (values['profile-out'] !== undefined) writeFileSync(values['profile-out'], JSON.stringify(profile, null, 1) + '\n');
  }
  const times = profileStepTimes(profile, { engine: engineOn });
  const only = values.only?.split(',') ?? null;
  const rates = values.rates?.split(',').map(Number) ?? null;
  if (rates !== null && rates.some((r) => !(r > 0))) throw new Error(`--rates: expected positive numbers separated by commas, got "${values.rates}"`);
  const requests = values.requests === undefined ? null : Number(values.requests);
  if (requests !== null && !(Number.isInteger(requests) && requests >= 4)) throw new Error(`--requests: expected an integer >= 4, got "${values.requests}"`);
  const chosen = (only === null ? PLAN : PLAN.filter((w) => only.includes(w.mix))).map((w) => ({ ...w, rates: rates ?? w.rates, count: requests ?? w.count }));
  if (chosen.length === 0) throw new Error(`--only: no workload among ${PLAN.map((w) => w.mix).join(', ')}`);
  const plan = values.quick === true ? [{ ...chosen[0], rates: chosen[0].rates.slice(0, 2), count: 48 }] : chosen;
  const engines = new Map<Mode, Engine>();
  const rows: ValidationRow[] = [];
  try {
    for (const mode of MODES) {
      // NOTE: the engine runs the profile's model (its default model is another one, of another size).
      engines.set(mode, await createEngine({ mode, prefill: 1, decode: 1, colocated: 2, slo: null, backend: 'wasm', model: profile.model }));
      await warmUp(engines.get(mode) as Engine, mode);
    }
    let run = 0;
    for (const w of plan) {
      for (const rate of w.rates) {
        // NOTE: a fresh seed per rate: the engine keeps its prefix cache between runs, so reusing a
        // run's prompts would turn the next run's prefills into cache hits the simulation lacks.
        const workload = generateWorkload({ mix: w.mix, count: w.count, seed: seed * 1000 + run++ });
        const requests = atRate(workload, rate);
        for (const mode of MODES) {
          const real = await realRun(engines.get(mode) as Engine, mode, rate, requests, w.slo);
          const sim = simulate({ config: { mode, prefill: 1, decode: 1, colocated: 2, cpu }, times, arrivals: requests });
          const rs = summarize(real.records, { slo: w.slo });
          const ss = sim.summary(w.slo);
          rows.push({
            workload: w.mix, mode, rate, slo: w.slo, count: w.count,
            real: { ttftP50: rs.ttftMs.p50, ttftP90: rs.ttftMs.p90, tpotP50: rs.tpotMs.p50, tpotP90: rs.tpotMs.p90, attainment: attainment(real.records, w.slo), attainment2x: attainment(real.records, scale(w.slo, 2)) },
            sim: { ttftP50: ss.ttftMs.p50, ttftP90: ss.ttftMs.p90, tpotP50: ss.tpotMs.p50, tpotP90: ss.tpotMs.p90, attainment: ss.attainment ?? 0, attainment2x: sim.log.attainment(scale(w.slo, 2)) },
          });
          log(`${w.mix} ${mode} ${rate} req/s: real attainment ${pct(rows[rows.length - 1].real.attainment)}, sim ${pct(rows[rows.length - 1].sim.attainment)}`);
          // NOTE: rewritten after every row, so a run cut short (a time limit) keeps what it measured.
          if (values.json !== undefined) writeFileSync(values.json, JSON.stringify({ profile, rows, load }, null, 1));
        }
      }
    }
  } finally {
    await Promise.all([...engines.values()].map((e) => e.close({ deadlineMs: 1_000 })));
  }
  process.stdout.write(`sim:validate ${new Date().toISOString()} profile ${profile.model}/${profile.backend} measured ${profile.date}, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}\n`);
  process.stdout.write(formatValidation(rows) + '\n');
  process.stdout.write(formatValidationScore(rows) + '\n');
  load.end = loadavg().map((l) => Number(l.toFixed(2)));
  if (values.json !== undefined) writeFileSync(values.json, JSON.stringify({ profile, rows, load }, null, 1));
}

/** Re-simulates the rows of an earlier run (same seeds, same order) against its real figures. */
function replay(file: string, seed: number, cpu: 'shared' | 'own', engineOn: boolean, json: string | undefined): void {
  const saved = JSON.parse(readFileSync(file, 'utf8')) as { profile: unknown; rows: ValidationRow[]; load?: unknown };
  const profile = parseProfile(saved.profile);
  const times = profileStepTimes(profile, { engine: engineOn });
  const keys: string[] = [];
  for (const r of saved.rows) if (!keys.includes(`${r.workload}/${r.rate}`)) keys.push(`${r.workload}/${r.rate}`);
  const plan = PLAN.filter((w) => saved.rows.some((r) => r.workload === w.mix));
  let run = 0;
  const rows = saved.rows.map((row) => {
    const w = plan.find((p) => p.mix === row.workload) as (typeof PLAN)[number];
    // NOTE: the run index of a (workload, rate) pair is its position in the original order.
    run = keys.indexOf(`${row.workload}/${row.rate}`);
    const requests = atRate(generateWorkload({ mix: w.mix, count: row.count ?? w.count, seed: seed * 1000 + run }), row.rate);
    const sim = simulate({ config: { mode: row.mode as Mode, prefill: 1, decode: 1, colocated: 2, cpu }, times, arrivals: requests });
    const ss = sim.summary(row.slo);
    return { ...row, sim: { ttftP50: ss.ttftMs.p50, ttftP90: ss.ttftMs.p90, tpotP50: ss.tpotMs.p50, tpotP90: ss.tpotMs.p90, attainment: ss.attainment ?? 0, attainment2x: sim.log.attainment(scale(row.slo, 2)) } };
  });
  process.stdout.write(`sim:validate --replay ${file} --cpu ${cpu} --engine ${engineOn ? 'on' : 'off'}${profile.engine === undefined ? ' (the profile has no engine path)' : ''}: profile ${profile.model}/${profile.backend} measured ${profile.date} on ${profile.machine.cpu} (${profile.machine.cores} cores)\n`);
  process.stdout.write(formatValidation(rows) + '\n');
  process.stdout.write(formatValidationScore(rows) + '\n');
  if (json !== undefined) writeFileSync(json, JSON.stringify({ profile, rows, load: saved.load ?? null }, null, 1));
}

async function warmUp(engine: Engine, mode: Mode): Promise<void> {
  const w = generateWorkload({ mix: 'chat', count: 12, seed: 999 });
  await runAtRate({ engine, mode, rate: 4, requests: atRate(w, 4), slo: { ttftMs: 1e9, tpotMs: 1e9 }, engineStartMs: performance.timeOrigin + performance.now(), drainMs: 10_000 });
}

function realRun(engine: Engine, mode: Mode, rate: number, requests: BenchRequest[], slo: SloTargets): Promise<RunResult> {
  return runAtRate({ engine, mode, rate, requests, slo, engineStartMs: performance.timeOrigin + performance.now(), drainMs: 20_000 });
}

function scale(s: SloTargets, k: number): SloTargets {
  return { ttftMs: s.ttftMs * k, tpotMs: s.tpotMs * k };
}

function pct(x: number): string {
  return `${(x * 100).toFixed(0)}%`;
}

await main();
