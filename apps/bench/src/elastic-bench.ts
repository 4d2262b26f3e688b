/**
 * `npm run bench:elastic`: elastic prefill:decode against every fixed P:D split, in one run.
 * K instances (`--instances`, default 3) on worker threads; a shifting workload (prefill-heavy:
 * long prompts, short outputs; decode-heavy: short prompts, long outputs; prefill-heavy again, each
 * `--phase-s` long, one seed) runs against every fixed split 1:(K-1) .. (K-1):1 and the planner
 * (starting at 1:(K-1)); then each steady phase alone against each. Rates and SLOs come from a
 * calibration at the start of the same run: the TTFT of a median prefill-heavy prompt alone, and
 * the prefill rate one prefill instance sustains (8 such prompts at once), and the TPOT of 16
 * concurrent decode-heavy requests on one decode instance; the prefill-heavy rate is
 * `--prefill-load` x what one prefill instance sustains, the decode-heavy rate `--decode-load`
 * x what one decode instance sustains at batch 16. It also measures the flip cost (decision to
 * serving in the new role) for decode -> prefill with handover and with drain, and for
 * prefill -> decode, under decode load. Prints tables; writes tables.txt, summary.json and the
 * charts (attainment over time, prefill instances over time) to `--out`.
 * NOTE: one repetition; the machine's background load moves between the runs.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createEngine, type Engine, type EngineOptionsInput, type FlipRecord, type SloTargets } from '@baton/engine';
import { BenchArgumentError } from './bench-errors.js';
import { attainmentTimeChart, goodput, goodputByPhase, rolesTimeChart, type ElasticRun } from './elastic-report.js';
import { phasedWorkload, shiftingPhases, type Phase, type PhaseKind, type PhasedWorkload } from './elastic-workload.js';
import { attainment, runAtRate } from './runner.js';
import { median } from './stats.js';
import { table } from './text-table.js';
import { generateWorkload } from './workload.js';

interface Args { model: string; instances: number; phaseS: number; seed: number; out: string; prefillLoad: number; decodeLoad: number; steady: boolean; costs: boolean }

const USAGE = 'usage: bench:elastic [--model baton-tiny] [--instances 3] [--phase-s 20] [--seed 1] [--prefill-load 1.3] [--decode-load 1.3] [--out DIR] [--no-steady] [--no-costs]';
const BIN_MS = 2_000;
const now = (): number => performance.timeOrigin + performance.now();

function parse(argv: readonly string[]): Args {
  const options = {
    model: { type: 'string' }, instances: { type: 'string' }, 'phase-s': { type: 'string' }, seed: { type: 'string' }, out: { type: 'string' },
    'prefill-load': { type: 'string' }, 'decode-load': { type: 'string' }, 'no-steady': { type: 'boolean' }, 'no-costs': { type: 'boolean' },
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
    prefillLoad: num(v['prefill-load'], '--prefill-load', 1.3, 0.01), decodeLoad: num(v['decode-load'], '--decode-load', 1.3, 0.01),
    steady: v['no-steady'] !== true, costs: v['no-costs'] !== true,
  };
}

const base = (a: Args): EngineOptionsInput => ({ model: a.model, backend: 'wasm', health: { unhealthyAfterMs: 60_000, restartAfterMs: 120_000 } });

/** Rates and SLOs from the speed of one instance of each role, measured now. */
async function calibrate(a: Args): Promise<{ slo: SloTargets; rates: Record<PhaseKind, number>; ttftAloneMs: number; prefillPerS: number; tpot16Ms: number }> {
  const engine = await createEngine({ ...base(a), prefill: 1, decode: 1 });
  try {
    // NOTE: every measurement on prompts of its own (a repeated prompt would be served from the prefix cache).
    const longs = generateWorkload({ mix: 'summarize', count: 12, seed: a.seed + 1_000 }).requests.map((r) => r.promptIds);
    const long = longs.slice(0, 4).sort((x, y) => x.length - y.length);
    const gen = generateWorkload({ mix: 'generate', count: 64, seed: a.seed + 1 }).requests;
    const one = async (prompt: number[], maxTokens: number): Promise<{ ttft: number; tpot: number | null }> => {
      const m = (await engine.generate({ prompt, maxTokens }).result).metrics;
      return { ttft: m.ttftMs ?? NaN, tpot: m.tpotMs };
    };
    await one(long[0], 2);
    const ttftAloneMs = median([await one(long[1], 1), await one(long[2], 1), await one(long[3], 1)].map((r) => r.ttft));
    // NOTE: what one prefill instance sustains: 8 such prompts at once, prompts per second until the last first token.
    const t0 = now();
    await Promise.all(longs.slice(4, 12).map((p) => one(p, 1)));
    const prefillPerS = 8_000 / (now() - t0);
    const batch = await Promise.all(gen.slice(0, 16).map((r) => one(r.promptIds, 96)));
    const tpot16Ms = median(batch.flatMap((r) => (r.tpot === null ? [] : [r.tpot])));
    const meanOut = gen.reduce((n, r) => n + r.maxTokens, 0) / gen.length;
    return {
      slo: { ttftMs: Math.round(5 * ttftAloneMs), tpotMs: Math.round(1.5 * tpot16Ms * 10) / 10 },
      rates: { 'prefill-heavy': a.prefillLoad * prefillPerS, 'decode-heavy': (a.decodeLoad * (16 / tpot16Ms) * 1000) / meanOut },
      ttftAloneMs, prefillPerS, tpot16Ms,
    };
  } finally {
    await engine.close({ deadlineMs: 0 });
  }
}

interface Config { name: string; prefill: number; planner: boolean }

/** Runs `w` against one configuration; samples its prefill instance count every 500 ms. */
async function runConfig(a: Args, c: Config, w: PhasedWorkload, slo: SloTargets): Promise<ElasticRun & { flips: FlipRecord[]; decisions: number; holding: Map<string, number>; t0: number }> {
  // NOTE: no engine-level SLO (it would turn on early rejection, whose TPOT estimate swings with the machine's load and decided
  // more than the split did); the planner gets the same targets as its own.
  const elastic = c.planner ? { elastic: { mode: 'planner' as const, slo } } : {};
  const engine = await createEngine({ ...base(a), prefill: c.prefill, decode: a.instances - c.prefill, ...elastic });
  try {
    await engine.generate({ prompt: w.requests[0].promptIds, maxTokens: 4 }).result;
    const t0 = now();
    const roles: Array<[number, number]> = [[0, c.prefill]];
    const holding = new Map<string, number>();
    const sampler = setInterval(() => {
      void engine.stats().then((s) => {
        roles.push([(now() - t0) / 1000, s.scheduler.elastic?.prefill ?? c.prefill]);
        // NOTE: why the planner held, with numbers stripped, counted over the run's samples.
        const why = s.planner?.holding?.replace(/[0-9.]+/g, '#') ?? null;
        if (why !== null) holding.set(why, (holding.get(why) ?? 0) + 1);
      }, () => undefined);
    }, 500);
    const run = await runAtRate({ engine, mode: c.name, rate: 1, requests: w.requests, slo, drainMs: 15_000, engineStartMs: t0 });
    clearInterval(sampler);
    const stats = await engine.stats();
    roles.push([(now() - t0) / 1000, stats.scheduler.elastic?.prefill ?? c.prefill]);
    return { name: c.name, records: run.records, prefillOverTime: roles, flips: stats.scheduler.elastic?.flips ?? [], decisions: stats.planner?.decisions.length ?? 0, holding, t0 };
  } finally {
    await engine.close({ deadlineMs: 0 });
  }
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
      const engine: Engine = await createEngine({ ...base(a), prefill, decode: a.instances - prefill, elastic: { mode: 'manual', policy: k.policy } });
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
  const cal = await calibrate(a);
  const { slo, rates } = cal;
  const durationMs = a.phaseS * 1000;
  const configs: Config[] = [
    ...Array.from({ length: a.instances - 1 }, (_, i) => ({ name: `fixed ${i + 1}P:${a.instances - 1 - i}D`, prefill: i + 1, planner: false })),
    { name: `planner (from 1P:${a.instances - 1}D)`, prefill: 1, planner: true },
  ];
  const lines: string[] = [];
  const say = (s: string): void => {
    console.log(s);
    lines.push(s);
  };
  say(`bench:elastic ${started} model ${a.model}, ${a.instances} instances on threads, phases ${a.phaseS} s, seed ${a.seed}`);
  say(`calibration: prefill-heavy median prompt alone TTFT ${cal.ttftAloneMs.toFixed(0)} ms, one prefill instance sustains ${cal.prefillPerS.toFixed(1)} such prompts/s; 16 decode-heavy requests on one decode instance TPOT ${cal.tpot16Ms.toFixed(1)} ms`);
  say(`SLO: TTFT <= ${slo.ttftMs} ms (5x alone), TPOT <= ${slo.tpotMs} ms (1.5x at batch 16); rates: prefill-heavy ${rates['prefill-heavy'].toFixed(2)} req/s (${a.prefillLoad}x one prefill instance), decode-heavy ${rates['decode-heavy'].toFixed(2)} req/s (${a.decodeLoad}x one decode instance)`);
  const shifting = phasedWorkload(shiftingPhases(rates, durationMs), a.seed);
  const labels = ['prefill-heavy', 'decode-heavy', 'prefill-heavy'];
  const shiftRuns: Array<Awaited<ReturnType<typeof runConfig>>> = [];
  for (const c of configs) {
    const r = await runConfig(a, c, shifting, slo);
    shiftRuns.push(r);
    console.log(`  shifting: ${c.name} done (${r.flips.length} flips)`);
  }
  const gp = (r: ElasticRun, w: PhasedWorkload): number => goodput(r.records, slo, w.totalMs);
  say(`\nShifting workload (${labels.join(' -> ')}, ${shifting.requests.length} requests)`);
  say(table(['config', 'goodput req/s', 'attainment', ...labels.map((l, i) => `phase ${i + 1} ${l}`), 'flips'], shiftRuns.map((r) => [
    r.name, gp(r, shifting).toFixed(2), `${(attainment(r.records, slo) * 100).toFixed(1)}%`,
    ...goodputByPhase(r.records, shifting, slo).map((g) => g.toFixed(2)), String(r.flips.length),
  ])));
  const ratio = (runs: readonly ElasticRun[], w: PhasedWorkload): { best: string; worst: string; vsBest: number; vsWorst: number } => {
    const fixed = runs.filter((r) => r.name.startsWith('fixed')).sort((x, y) => gp(y, w) - gp(x, w));
    const planner = runs[runs.length - 1];
    const best = fixed[0];
    const worst = fixed[fixed.length - 1];
    return { best: best.name, worst: worst.name, vsBest: gp(planner, w) / Math.max(1e-9, gp(best, w)), vsWorst: gp(planner, w) / Math.max(1e-9, gp(worst, w)) };
  };
  const shiftRatio = ratio(shiftRuns, shifting);
  say(`planner / best fixed (${shiftRatio.best}): ${shiftRatio.vsBest.toFixed(2)}x (goal >= 1.3x: ${shiftRatio.vsBest >= 1.3 ? 'met' : 'not met'}); / worst fixed (${shiftRatio.worst}): ${shiftRatio.vsWorst.toFixed(2)}x`);
  const plannerRun = shiftRuns[shiftRuns.length - 1];
  const plannerFlips = plannerRun.flips;
  say(`planner held (samples every 500 ms): ${[...plannerRun.holding].sort((x, y) => y[1] - x[1]).map(([why, n]) => `${n}x "${why}"`).join('; ')}`);
  // NOTE: decided at, in seconds from the start of the run and into its phase: how late (or early) after a shift the planner acted.
  const into = (ms: number): string => {
    const t = ms - plannerRun.t0;
    const k = Math.max(0, shifting.startsMs.findLastIndex((start) => start <= t));
    return `${(t / 1000).toFixed(1)} (phase ${k + 1} +${((t - shifting.startsMs[k]) / 1000).toFixed(1)})`;
  };
  say(table(['flip (planner, shifting)', 'decided at s', 'cost ms', 'handed over', 'drained', 'requeued', 'reason'], plannerFlips.map((f) => [
    `${f.instance}: ${f.from} -> ${f.to}`, into(f.decidedMs), f.costMs.toFixed(0), String(f.handedOver), String(f.drained), String(f.requeued), f.reason,
  ])));
  const steady: Record<string, { runs: Array<Awaited<ReturnType<typeof runConfig>>>; ratio: ReturnType<typeof ratio> }> = {};
  for (const kind of a.steady ? (['prefill-heavy', 'decode-heavy'] as const) : []) {
    const phase: Phase = { kind, rate: rates[kind], durationMs, occurrence: 0 };
    const w = phasedWorkload([phase], a.seed);
    const runs: Array<Awaited<ReturnType<typeof runConfig>>> = [];
    for (const c of configs) runs.push(await runConfig(a, c, w, slo));
    steady[kind] = { runs, ratio: ratio(runs, w) };
    say(`\nSteady ${kind} alone (${w.requests.length} requests)`);
    say(table(['config', 'goodput req/s', 'attainment', 'flips'], runs.map((r) => [r.name, gp(r, w).toFixed(2), `${(attainment(r.records, slo) * 100).toFixed(1)}%`, String(r.flips.length)])));
    const q = steady[kind].ratio;
    say(`planner / best fixed (${q.best}): ${q.vsBest.toFixed(2)}x (goal >= 0.90x: ${q.vsBest >= 0.9 ? 'met' : 'not met'})`);
  }
  const costs = a.costs ? await flipCosts(a, shifting, 3) : [];
  say('\nFlip cost under decode load (12 decode-heavy requests, flip 1.5 s in; 3 repetitions)');
  say(table(['flip', 'median ms', 'min ms', 'max ms', 'moved (median)'], costs.map((c) => [
    c.kind, median(c.costs).toFixed(1), Math.min(...c.costs).toFixed(1), Math.max(...c.costs).toFixed(1), String(median(c.moved)),
  ])));
  mkdirSync(a.out, { recursive: true });
  const sub = `${a.model}, ${a.instances} instances, SLO TTFT ${slo.ttftMs} ms / TPOT ${slo.tpotMs} ms, ${started.slice(0, 16)} UTC`;
  writeFileSync(join(a.out, 'attainment-over-time.svg'), attainmentTimeChart(shiftRuns, shifting, slo, BIN_MS, labels, sub));
  writeFileSync(join(a.out, 'roles-over-time.svg'), rolesTimeChart(shiftRuns, shifting, labels, sub));
  writeFileSync(join(a.out, 'tables.txt'), lines.join('\n') + '\n');
  writeFileSync(join(a.out, 'summary.json'), JSON.stringify({
    started, args: a, calibration: cal, shifting: { ratio: shiftRatio, goodput: shiftRuns.map((r) => ({ name: r.name, goodput: gp(r, shifting), flips: r.flips })) },
    steady: Object.fromEntries(Object.entries(steady).map(([k, v]) => [k, { ratio: v.ratio }])), flipCosts: costs,
  }, null, 2));
  console.log(`\nwrote ${a.out}/attainment-over-time.svg, roles-over-time.svg, tables.txt, summary.json`);
}

main().catch((e: unknown) => {
  console.error(e instanceof BenchArgumentError ? `${e.message}\n${USAGE}` : e);
  process.exit(e instanceof BenchArgumentError ? 2 : 1);
});
