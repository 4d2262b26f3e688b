/**
 * `npm run bench:elastic`: elastic prefill:decode against every fixed P:D split, in one run.
 * K instances (`--instances`, default 3) on worker threads; a shifting workload (prefill-heavy:
 * long prompts, short outputs; decode-heavy: short prompts, long outputs; prefill-heavy again, each
 * `--phase-s` long, one seed) runs against every fixed split 1:(K-1) .. (K-1):1 and the planner
 * (starting at 1:(K-1)); then each steady phase alone against each. Targets and rates come from a
 * calibration at the start of the same run (elastic-calibration.ts): the prefill-heavy rate is
 * `--prefill-load` x what one prefill instance sustains, the decode-heavy rate `--decode-load` x
 * what one decode instance sustains within the TPOT target. `--parallel` runs the configurations
 * of each workload at the same time, each in a child process (on a machine with a core for every
 * actor thread). It also measures the flip cost (decision to serving in the new role) for
 * decode -> prefill with handover and with drain, and for prefill -> decode, under decode load.
 * Prints tables; writes tables.txt, summary.json and the charts (attainment over time, prefill
 * instances over time) to `--out`.
 * NOTE: one repetition; on a shared machine the background load moves between the runs.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createEngine, type Engine } from '@baton/engine';
import { BenchArgumentError } from './bench-errors.js';
import { calibrateElastic } from './elastic-calibration.js';
import { attainmentTimeChart, goodput, goodputByPhase, rolesTimeChart, type ElasticRun } from './elastic-report.js';
import { benchEngineBase, runElasticWave, type ElasticConfig, type ElasticConfigRun, type ElasticRunSpec } from './elastic-run.js';
import { phasedWorkload, shiftingPhases, type Phase, type PhasedWorkload } from './elastic-workload.js';
import { attainment } from './runner.js';
import { median } from './stats.js';
import { table } from './text-table.js';

interface Args { model: string; instances: number; phaseS: number; seed: number; out: string; prefillLoad: number; decodeLoad: number; steady: boolean; costs: boolean; parallel: boolean; drainS: number }

const USAGE = 'usage: bench:elastic [--model baton-tiny] [--instances 3] [--phase-s 20] [--seed 1] [--prefill-load 1.5] [--decode-load 1.5] [--drain-s 15] [--parallel] [--out DIR] [--no-steady] [--no-costs]';
const BIN_MS = 2_000;

function parse(argv: readonly string[]): Args {
  const options = {
    model: { type: 'string' }, instances: { type: 'string' }, 'phase-s': { type: 'string' }, seed: { type: 'string' }, out: { type: 'string' },
    'prefill-load': { type: 'string' }, 'decode-load': { type: 'string' }, 'no-steady': { type: 'boolean' }, 'no-costs': { type: 'boolean' },
    parallel: { type: 'boolean' }, 'drain-s': { type: 'string' },
  } as const;
  let v: ReturnType<typeof parseArgs<{ args: string[]; options: typeof options }>>['values'];
  try {
    v = parseArgs({ args: [...argv], options }).values;
  } catch (e) {
    throw new BenchArgumentError('arguments', e instanceof Error ? e.message : String(e));
  }
  const num = (s: string | undefined, flag: string, fallback: number, min: number): number => {
    if (s === undefined) return fallback;
    const n = Number(s);
    if (!Number.isFinite(n) || n < min) throw new BenchArgumentError(flag, `must be a number >= ${min}, got "${s}"`);
    return n;
  };
  return {
    model: v.model ?? 'baton-tiny', instances: Math.round(num(v.instances, '--instances', 3, 2)), phaseS: num(v['phase-s'], '--phase-s', 20, 2),
    seed: Math.round(num(v.seed, '--seed', 1, 0)), out: v.out ?? 'docs/bench-2026-12-04-elastic',
    prefillLoad: num(v['prefill-load'], '--prefill-load', 1.5, 0.01), decodeLoad: num(v['decode-load'], '--decode-load', 1.5, 0.01),
    steady: v['no-steady'] !== true, costs: v['no-costs'] !== true, parallel: v.parallel === true, drainS: num(v['drain-s'], '--drain-s', 15, 0),
  };
}

/** Flip cost under decode load: decision to serving in the new role, `reps` times per kind. */
async function flipCosts(a: Args, w: PhasedWorkload, reps: number): Promise<Array<{ kind: string; costs: number[]; moved: number[] }>> {
  const out: Array<{ kind: string; costs: number[]; moved: number[] }> = [];
  const decodeLoad = w.requests.filter((_r, i) => w.phaseOf[i] === 1).slice(0, 12);
  const kinds: Array<{ kind: string; policy: 'handover' | 'drain'; to: 'prefill' | 'decode'; instance: number }> = [
    { kind: 'decode -> prefill, handover', policy: 'handover', to: 'prefill', instance: a.instances - 1 },
    { kind: 'decode -> prefill, drain', policy: 'drain', to: 'prefill', instance: a.instances - 1 },
    { kind: 'prefill -> decode', policy: 'handover', to: 'decode', instance: 0 },
  ];
  for (const k of kinds) {
    const costs: number[] = [];
    const moved: number[] = [];
    for (let rep = 0; rep < reps; rep++) {
      const prefill = k.to === 'decode' ? 2 : 1;
      const engine: Engine = await createEngine({ ...benchEngineBase(a.model), prefill, decode: a.instances - prefill, elastic: { mode: 'manual', policy: k.policy } });
      try {
        const load = decodeLoad.map((r) => engine.generate({ prompt: r.promptIds, maxTokens: r.maxTokens }).result);
        await new Promise((resolve) => setTimeout(resolve, 1_500));
        const record = await engine.flip({ instance: k.instance, to: k.to });
        costs.push(record.costMs);
        moved.push(record.handedOver + record.requeued);
        await Promise.all(load);
      } finally {
        await engine.close({ deadlineMs: 0 });
      }
    }
    out.push({ kind: k.kind, costs, moved });
  }
  return out;
}

async function main(): Promise<void> {
  const a = parse(process.argv.slice(2));
  const started = new Date().toISOString();
  const startLoad = loadavg().map((x) => x.toFixed(2)).join(' ');
  const cal = await calibrateElastic(benchEngineBase(a.model), a.seed, { 'prefill-heavy': a.prefillLoad, 'decode-heavy': a.decodeLoad });
  const { slo, rates } = cal;
  const durationMs = a.phaseS * 1000;
  const configs: ElasticConfig[] = [
    ...Array.from({ length: a.instances - 1 }, (_, i) => ({ name: `fixed ${i + 1}P:${a.instances - 1 - i}D`, prefill: i + 1, planner: false })),
    { name: `planner (from 1P:${a.instances - 1}D)`, prefill: 1, planner: true },
  ];
  const lines: string[] = [];
  const say = (s: string): void => {
    console.log(s);
    lines.push(s);
  };
  const spec = (phases: Phase[]) => (config: ElasticConfig): ElasticRunSpec => ({ model: a.model, instances: a.instances, config, phases, seed: a.seed, slo, drainMs: a.drainS * 1000 });
  say(`bench:elastic ${started} model ${a.model}, ${a.instances} instances on threads, phases ${a.phaseS} s, seed ${a.seed}; ${cpus().length} cores, load average ${startLoad}; configurations ${a.parallel ? 'at the same time, a process each' : 'one after the other'}`);
  say(`calibration: prefill-heavy median prompt alone TTFT ${cal.ttftAloneMs.toFixed(0)} ms, one prefill instance sustains ${cal.prefillPerS.toFixed(2)} such prompts/s; decode-heavy TPOT on one decode instance ${cal.tpot16Ms.toFixed(1)} ms at 16 requests, ${cal.tpotFull.ms.toFixed(1)} ms at ${cal.tpotFull.batch}: it sustains ${cal.decodeTokensPerS.toFixed(0)} tokens/s within the target (batch ${cal.decodeBatchAtTarget.toFixed(1)}; mean output ${cal.meanOutputTokens.toFixed(0)} tokens)`);
  say(`SLO: TTFT <= ${slo.ttftMs} ms (5x alone), TPOT <= ${slo.tpotMs} ms (1.5x at batch 16); rates: prefill-heavy ${rates['prefill-heavy'].toFixed(2)} req/s (${a.prefillLoad}x one prefill instance), decode-heavy ${rates['decode-heavy'].toFixed(2)} req/s (${a.decodeLoad}x one decode instance)`);
  const shiftPhases = shiftingPhases(rates, durationMs);
  const shifting = phasedWorkload(shiftPhases, a.seed);
  const labels = ['prefill-heavy', 'decode-heavy', 'prefill-heavy'];
  const shiftRuns = await runElasticWave(configs.map(spec(shiftPhases)), a.parallel);
  console.log(`  shifting done (${new Date().toISOString()}; flips: ${shiftRuns.map((r) => r.flips.length).join(', ')})`);
  const gp = (r: ElasticRun, w: PhasedWorkload): number => goodput(r.records, slo, w.totalMs);
  say(`\nShifting workload (${labels.join(' -> ')}, ${shifting.requests.length} requests: ${shifting.startsMs.map((_s, k) => shifting.phaseOf.filter((p) => p === k).length).join(' / ')} per phase)`);
  say(table(['config', 'goodput req/s', 'attainment', ...labels.map((l, i) => `phase ${i + 1} ${l}`), 'flips'], shiftRuns.map((r) => [
    r.name, gp(r, shifting).toFixed(2), `${(attainment(r.records, slo) * 100).toFixed(1)}%`,
    ...goodputByPhase(r.records, shifting, slo).map((g) => g.toFixed(2)), String(r.flips.length),
  ])));
  const ratio = (runs: readonly ElasticRun[], w: PhasedWorkload): { best: string; worst: string; vsBest: number | null; vsWorst: number | null } => {
    const fixed = runs.filter((r) => r.name.startsWith('fixed')).sort((x, y) => gp(y, w) - gp(x, w));
    const planner = runs[runs.length - 1];
    const best = fixed[0];
    const worst = fixed[fixed.length - 1];
    // NOTE: null where the fixed split had no goodput at all (no ratio to speak of).
    const over = (r: ElasticRun): number | null => (gp(r, w) > 0 ? gp(planner, w) / gp(r, w) : null);
    return { best: best.name, worst: worst.name, vsBest: over(best), vsWorst: over(worst) };
  };
  const shiftRatio = ratio(shiftRuns, shifting);
  say(`planner / best fixed (${shiftRatio.best}): ${x(shiftRatio.vsBest)} (goal >= 1.3x: ${verdict(shiftRatio.vsBest, 1.3)}); / worst fixed (${shiftRatio.worst}): ${x(shiftRatio.vsWorst)}`);
  const plannerRun = shiftRuns[shiftRuns.length - 1];
  say(`planner held (samples every 500 ms): ${[...plannerRun.holding].sort((x, y) => y[1] - x[1]).map(([why, n]) => `${n}x "${why}"`).join('; ')}`);
  say(flipTable(plannerRun, shifting, 'shifting'));
  const steady: Record<string, { runs: ElasticConfigRun[]; ratio: ReturnType<typeof ratio> }> = {};
  for (const kind of a.steady ? (['prefill-heavy', 'decode-heavy'] as const) : []) {
    const phases: Phase[] = [{ kind, rate: rates[kind], durationMs, occurrence: 0 }];
    const w = phasedWorkload(phases, a.seed);
    const runs = await runElasticWave(configs.map(spec(phases)), a.parallel);
    steady[kind] = { runs, ratio: ratio(runs, w) };
    say(`\nSteady ${kind} alone (${w.requests.length} requests)`);
    say(table(['config', 'goodput req/s', 'attainment', 'flips'], runs.map((r) => [r.name, gp(r, w).toFixed(2), `${(attainment(r.records, slo) * 100).toFixed(1)}%`, String(r.flips.length)])));
    const q = steady[kind].ratio;
    say(`planner / best fixed (${q.best}): ${x(q.vsBest)} (goal >= 0.90x: ${verdict(q.vsBest, 0.9)})`);
    if (runs[runs.length - 1].flips.length > 0) say(flipTable(runs[runs.length - 1], w, kind));
  }
  const costs = a.costs ? await flipCosts(a, shifting, 3) : [];
  if (a.costs) {
    say('\nFlip cost under decode load (12 decode-heavy requests, flip 1.5 s in; 3 repetitions)');
    say(table(['flip', 'median ms', 'min ms', 'max ms', 'moved (median)'], costs.map((c) => [
      c.kind, median(c.costs).toFixed(1), Math.min(...c.costs).toFixed(1), Math.max(...c.costs).toFixed(1), String(median(c.moved)),
    ])));
  }
  const endLoad = loadavg().map((x) => x.toFixed(2)).join(' ');
  say(`\nended ${new Date().toISOString()}, load average ${endLoad}`);
  mkdirSync(a.out, { recursive: true });
  const sub = `${a.model}, ${a.instances} instances, SLO TTFT ${slo.ttftMs} ms / TPOT ${slo.tpotMs} ms, ${started.slice(0, 16)} UTC`;
  writeFileSync(join(a.out, 'attainment-over-time.svg'), attainmentTimeChart(shiftRuns, shifting, slo, BIN_MS, labels, sub));
  writeFileSync(join(a.out, 'roles-over-time.svg'), rolesTimeChart(shiftRuns, shifting, labels, sub));
  writeFileSync(join(a.out, 'tables.txt'), lines.join('\n') + '\n');
  writeFileSync(join(a.out, 'summary.json'), JSON.stringify({
    started, cores: cpus().length, loadAverage: { start: startLoad, end: endLoad }, args: a, calibration: cal,
    shifting: { ratio: shiftRatio, goodput: shiftRuns.map((r) => ({ name: r.name, goodput: gp(r, shifting), byPhase: goodputByPhase(r.records, shifting, slo), flips: r.flips })) },
    steady: Object.fromEntries(Object.entries(steady).map(([k, v]) => [k, { ratio: v.ratio, goodput: v.runs.map((r) => ({ name: r.name, attainment: attainment(r.records, slo), flips: r.flips })) }])), flipCosts: costs,
  }, null, 2));
  console.log(`\nwrote ${a.out}/attainment-over-time.svg, roles-over-time.svg, tables.txt, summary.json`);
}

const x = (r: number | null): string => (r === null ? '— (no fixed goodput)' : `${r.toFixed(2)}x`);
const verdict = (r: number | null, goal: number): string => (r === null ? 'no ratio' : r >= goal ? 'met' : 'not met');

/** The planner's flips in one run: when decided (seconds into the run and into its phase), cost, what moved, why. */
function flipTable(run: ElasticConfigRun, w: PhasedWorkload, what: string): string {
  const into = (ms: number): string => {
    const t = ms - run.t0;
    const k = Math.max(0, w.startsMs.findLastIndex((start) => start <= t));
    return `${(t / 1000).toFixed(1)} (phase ${k + 1} +${((t - w.startsMs[k]) / 1000).toFixed(1)})`;
  };
  return table([`flip (planner, ${what})`, 'decided at s', 'cost ms', 'handed over', 'drained', 'requeued', 'reason'], run.flips.map((f) => [
    `${f.instance}: ${f.from} -> ${f.to}`, into(f.decidedMs), f.costMs.toFixed(0), String(f.handedOver), String(f.drained), String(f.requeued), f.reason,
  ]));
}

main().catch((e: unknown) => {
  console.error(e instanceof BenchArgumentError ? `${e.message}\n${USAGE}` : e);
  process.exit(e instanceof BenchArgumentError ? 2 : 1);
});
