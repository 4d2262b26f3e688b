/**
 * `npm run bench:sim`: what Baton's policies do at scale. A 1,000-instance cluster (50 engines of
 * 10 prefill + 10 decode instances, each with its own scheduler and length predictor) serves an
 * hour of Poisson chat traffic with every request predicted and learned by the engine's
 * LengthPredictor and the profile's decision time charged per request; the same hour with length
 * prediction off is the baseline of the wall-time ratio. Beside them, the same 1,000 instances
 * behind ONE scheduler for two minutes, with the decision time measured (wall time of the
 * engine's policy calls as the simulator makes them, predictor included) and charged. Prints
 * simulated span, requests, events, wall time, latency percentiles, attainment and scheduler load.
 *
 * Flags: --profile FILE (default: the shipped 2-core baton-8x512 profile), --rate-per-prefill R
 * (req/s per prefill instance, default 60% of its prefill capacity), --minutes M (default 60),
 * --no-baseline (skip the prediction-off hour).
 */
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { generateWorkload } from '@baton/bench';
import { poissonArrivals } from '../poisson-arrivals.js';
import { readProfile } from '../profile.js';
import { simulate, type SimResult } from '../simulator.js';
import type { SimConfigInput } from '../sim-config.js';
import { profileStepTimes } from '../step-times.js';


function main(): void {
  const { values } = parseArgs({ options: { profile: { type: 'string' }, 'rate-per-prefill': { type: 'string' }, minutes: { type: 'string' }, 'no-baseline': { type: 'boolean' } }, strict: true });
  const file = values.profile ?? fileURLToPath(new URL('../../profiles/cpu2-baton-8x512-wasm.json', import.meta.url));
  const profile = readProfile(file);
  const times = profileStepTimes(profile);
  const base = generateWorkload({ mix: 'chat', count: 4096, seed: 1 });
  const meanPrompt = base.requests.reduce((n, r) => n + r.promptIds.length, 0) / base.requests.length;
  const capacity = 1000 / times.prefillMs(Math.round(meanPrompt), 0);
  const perPrefill = values['rate-per-prefill'] !== undefined ? Number(values['rate-per-prefill']) : 0.6 * capacity;
  // NOTE: targets scaled to the profile: 3x a mean prompt's prefill, 3x a decode step of 8 at context 256.
  const SLO = { ttftMs: Math.round(3 * times.prefillMs(Math.round(meanPrompt), 0)), tpotMs: Math.round(3 * times.decodeMs(8, 8 * 256)) };
  const minutes = values.minutes !== undefined ? Number(values.minutes) : 60;
  process.stdout.write(`bench:sim ${new Date().toISOString()} profile ${profile.model}/${profile.backend} (${profile.machine.cpu}, ${profile.machine.cores} cores, ${profile.date})\n`);
  process.stdout.write(`chat mix, mean prompt ${meanPrompt.toFixed(0)} tokens; one prefill instance ~${capacity.toFixed(1)} req/s; offered ${perPrefill.toFixed(2)} req/s per prefill instance; SLO ${SLO.ttftMs}/${SLO.tpotMs} ms\n\n`);
  const rows: string[][] = [['cluster', 'schedulers', 'traffic', 'requests', 'events', 'wall s', 'CPU s', 'TTFT p50/p90 ms', 'TPOT p50/p90 ms', 'attainment', 'rejected', 'decision µs', 'scheduler busy']];
  // NOTE: CPU seconds beside wall seconds: on a machine shared with other work the wall time
  // measures the other work too (the process may get a fraction of a core).
  const cpuS = new Map<SimResult, number>();
  const run = (label: string, input: SimConfigInput, prefills: number, ms: number): SimResult => {
    // NOTE: every instance of the cluster is a device of its own (no co-run slowdown between them).
    const config: SimConfigInput = { ...input, cpu: 'own' };
    const rate = perPrefill * prefills;
    const cpu0 = process.cpuUsage();
    const r = simulate({ config, times, arrivals: poissonArrivals({ rate, durationMs: ms, shapes: base.requests, seed: 7 }) });
    const s = r.summary(SLO);
    const cells = config.cells ?? 1;
    const cpu = process.cpuUsage(cpu0);
    cpuS.set(r, (cpu.user + cpu.system) / 1e6);
    const perDecisionUs = r.scheduler.decisions === 0 ? 0 : (r.scheduler.busyMs * 1000) / r.scheduler.decisions;
    rows.push([
      label, String(cells), `${(ms / 60_000).toFixed(1)} min at ${rate.toFixed(0)} req/s`, String(s.requests), String(r.events), (r.wallMs / 1000).toFixed(1), (cpuS.get(r) ?? 0).toFixed(1),
      `${f(s.ttftMs.p50)} / ${f(s.ttftMs.p90)}`, `${f(s.tpotMs.p50, 1)} / ${f(s.tpotMs.p90, 1)}`, `${((s.attainment ?? 0) * 100).toFixed(1)}%`, String(s.outcomes.rejected),
      `${perDecisionUs.toFixed(1)} (${config.schedulerCost})`, `${((r.scheduler.busyMs / cells / r.simulatedMs) * 100).toFixed(1)}% per scheduler`,
    ]);
    process.stderr.write(`bench:sim: ${label} done in ${(r.wallMs / 1000).toFixed(1)} s\n`);
    return r;
  };
  const cluster = { mode: 'disaggregated', prefill: 10, decode: 10, cells: 50, kv: { scope: 'instance' }, schedulerCost: 'profile' } as const;
  const on = run('1,000 = 50 x (10P+10D)', { ...cluster, lengthPrediction: 'engine' }, 500, minutes * 60_000);
  const off = values['no-baseline'] === true ? null : run('same, prediction off', { ...cluster, lengthPrediction: 'off' }, 500, minutes * 60_000);
  run('1,000 = 1 x (500P+500D)', { mode: 'disaggregated', prefill: 500, decode: 500, cells: 1, kv: { scope: 'instance' }, schedulerCost: 'measured' }, 500, 2 * 60_000);
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  rows.forEach((r, i) => {
    process.stdout.write(`| ${r.map((cell, c) => cell.padEnd(widths[c])).join(' | ')} |\n`);
    if (i === 0) process.stdout.write(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|\n`);
  });
  const goal = on.wallMs < 60_000 ? 'under a minute: met' : 'under a minute: NOT met';
  const ratio = off === null ? '' : `; ${(on.wallMs / off.wallMs).toFixed(2)}x the wall time with prediction off (${(off.wallMs / 1000).toFixed(1)} s)`;
  process.stdout.write(`\n${minutes} min on 1,000 instances with length prediction: ${(on.wallMs / 1000).toFixed(1)} s wall, ${(cpuS.get(on) ?? 0).toFixed(1)} s CPU (${goal})${ratio}; load average ${loadavg()[0].toFixed(1)}\n`);
}

function f(v: number | null, digits = 0): string {
  return v === null ? '-' : v.toFixed(digits);
}

main();
