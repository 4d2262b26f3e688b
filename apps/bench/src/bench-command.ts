/**
 * `baton bench`: prints the model's roofline on this machine, then compares engine modes on one
 * workload in one run — same seed, same requests, same model threads and devices, modes
 * interleaved, repeated — and reports goodput, SLO attainment per rate, latency percentiles, the
 * SLO-scale sweep, the median ratios with their spread and the admission check; writes charts,
 * raw records and a JSON summary.
 *
 * `--workload multiturn` is the conversation workload instead: sessions of 3–8 turns whose every
 * turn re-sends the whole conversation, against no caching and three routing rules of context
 * caching (context-comparison.ts, the same as `npm run bench:context` and with its arguments,
 * `--trace FILE` included).
 *
 * Invariants: never throws; returns the exit code (0 done, 2 bad arguments with a one-line error
 * naming the argument, 1 any other failure). Progress goes to stderr, the tables to stdout.
 */
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import { BENCH_USAGE, parseBenchArgs, type BenchArgs } from './bench-args.js';
import { BenchArgumentError, TraceLineError } from './bench-errors.js';
import { benchDefaults } from './bench-help.js';
import { contextBench } from './context-comparison.js';
import { formatTables, summaryJson, writeOutputs, type ReportContext } from './bench-report.js';
import { defaultBackendName } from '@baton/model';
import { runComparison } from './comparison.js';
import { comparisonJson, formatComparison, rooflineChart } from './comparison-report.js';
import { formatRateSweeps, rateSweepJson, tighterSloChart } from './rate-sweep-report.js';
import { formatRoofline, measureRoofline, type Roofline } from './roofline.js';
import { readTrace, traceToWorkload, workloadToTrace, writeTrace } from './trace.js';
import { generateWorkload, type Workload } from './workload.js';

/** Output streams (injectable for tests). */
export interface BenchIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** True when stderr is a terminal (progress lines are redrawn in place). */
  tty: boolean;
}

const DEFAULT_IO: BenchIo = {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  tty: process.stderr.isTTY === true,
};

/** Runs `baton bench` with `argv` (arguments after `bench`); resolves to the exit code. */
export async function benchCommand(argv: string[], io: BenchIo = DEFAULT_IO): Promise<number> {
  const conversations = multiturnArgs(argv);
  if (conversations !== null) return contextBench(conversations, { name: 'baton bench', out: (line) => io.stdout(`${line}\n`), err: (line) => io.stderr(`${line}\n`) });
  let args: BenchArgs;
  try {
    args = parseBenchArgs(argv);
  } catch (e) {
    if (e instanceof BenchArgumentError) {
      io.stderr(`baton bench: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  if (args.help) {
    io.stdout(`${BENCH_USAGE}\n${benchDefaults()}\n`);
    return 0;
  }
  try {
    return await run(args, argv, io);
  } catch (e) {
    // NOTE: a bad argument found while running (an unreadable trace) is still exit 2, one line.
    if (e instanceof BenchArgumentError) {
      io.stderr(`baton bench: ${e.message}\n`);
      return 2;
    }
    io.stderr(`\nbaton bench: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
}

async function run(args: BenchArgs, argv: string[], io: BenchIo): Promise<number> {
  const workload = await loadWorkload(args);
  if (args.writeTrace !== null) {
    const file = args.writeTrace;
    await writeTrace(file, workloadToTrace(workload)).catch((e: unknown) => {
      const code = (e as { code?: unknown }).code;
      throw new BenchArgumentError('--write-trace', `cannot write ${file} (${typeof code === 'string' ? code : (e as Error).message})`);
    });
    io.stderr(`wrote trace ${args.writeTrace} (${workload.requests.length} requests)\n`);
  }
  const date = new Date().toISOString();
  let transient = false;
  const log = (line: string, isTransient = false): void => {
    if (io.tty) io.stderr(`\r\x1b[2K${line}${isTransient ? '' : '\n'}`);
    else if (!isTransient) io.stderr(`${line}\n`);
    transient = isTransient;
  };
  const rooflines: Roofline[] = [];
  if (args.roofline) {
    const backends = [...new Set([args.prefillBackend ?? args.backend, args.decodeBackend ?? args.backend].map((b) => (b === 'auto' ? defaultBackendName() : b)))];
    for (const backend of backends) rooflines.push(await measureRoofline({ model: args.model, backend, reps: args.quick ? 3 : 5, log: (l) => log(l, !l.includes('round')) }));
    if (transient && io.tty) io.stderr('\n');
    io.stdout(formatRoofline(rooflines));
  }
  log(`baton bench: ${args.model}, ${workload.name}, ${workload.requests.length} requests per rate, modes ${args.modes.join(', ')}, ${args.reps} repetition(s)`);
  const startRate = args.rates.kind === 'search' ? args.rates.start : Math.min(...args.rates.rates);
  const result = await runComparison({
    modes: args.modes,
    slo: args.slo,
    rates: args.rates.kind === 'list' ? args.rates : { ...args.rates, bisectSteps: args.quick ? 2 : 3, down: args.quick ? 2 : 8 },
    splits: args.splits,
    colocated: args.colocated,
    chunk: args.chunk,
    chunks: args.chunks,
    tuneRate: args.tuneRate,
    reps: args.reps,
    admission: args.admission,
    engine: {
      model: args.model,
      backend: args.backend,
      prefillBackend: args.prefillBackend,
      decodeBackend: args.decodeBackend,
      placement: args.placement,
      ...(args.prefillNice === 'default' ? {} : { prefillNice: args.prefillNice === 'off' ? null : args.prefillNice }),
    },
    rig: {
      workload,
      // NOTE: a fixed-rate run feeds the SLO-scale sweep: its slowest requests must finish (an aborted
      // one fails at every scale), so it drains for up to a minute; a search only needs pass/fail.
      drainMs: args.rates.kind === 'list' ? 60_000 : args.quick ? 8_000 : 20_000,
      // NOTE: only a goodput search stops runs early: a fixed-rate run feeds the SLO-scale sweep, which needs every request.
      stopEarly: args.quick && args.rates.kind === 'search',
      maxRunSeconds: args.runSeconds,
      warmUpBurst: Math.min(16, 2 * args.colocated),
      warmUpSeconds: args.quick ? Math.min(8, args.runSeconds ?? 8) : 15,
      warmUpRate: startRate,
      log,
    },
  });
  if (transient && io.tty) io.stderr('\n');
  const ctx: ReportContext = {
    command: `baton bench ${argv.join(' ')}`,
    date,
    workload: `${workload.name} on ${args.model}`,
    slo: { ttftMs: round3(result.slo.nominal.ttftMs), tpotMs: round3(result.slo.nominal.tpotMs) },
    requestsPerRate: workload.requests.length,
    loadAverage: loadavg(),
  };
  const last = result.reps[result.reps.length - 1];
  io.stdout(`\nLast repetition in detail:\n${formatTables(last, ctx)}\n`);
  io.stdout(formatComparison(result));
  const modes = result.rigs.map((r) => r.mode);
  const baselines = modes.filter((m) => m !== 'disaggregated');
  // NOTE: with several fixed rates the sweep at each rate shows where disaggregation starts to win.
  const perRate = args.rates.kind === 'list' && args.rates.rates.length > 1;
  if (perRate) io.stdout(`\n${formatRateSweeps(result.reps, modes)}`);
  const dir = args.out ?? join('bench-out', date.replace(/[:.]/g, '-'));
  const files = await writeOutputs(dir, last, ctx);
  const summary = { ...(summaryJson(last, ctx) as object), comparison: { ...(comparisonJson(result, rooflines) as object), byRate: rateSweepJson(result.reps, baselines) } };
  await writeFile(join(dir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
  if (perRate && modes.includes('disaggregated') && baselines.length > 0) {
    await writeFile(join(dir, 'slo-ratio-by-rate.svg'), tighterSloChart(result.reps, baselines, `${ctx.workload}; ${date}`));
    files.push(join(dir, 'slo-ratio-by-rate.svg'));
  }
  if (rooflines.length > 0) {
    await writeFile(join(dir, 'roofline.svg'), rooflineChart(rooflines, `${args.model}; ${date}`));
    files.push(join(dir, 'roofline.svg'));
  }
  if (args.json !== null) await writeFile(args.json, JSON.stringify(summary, null, 2) + '\n');
  io.stdout(`\nwrote ${files.join(', ')}${args.json === null ? '' : `, ${args.json}`}\n`);
  return 0;
}

/** The arguments after `--workload multiturn` taken out (the context-caching comparison's), or null for another workload. */
function multiturnArgs(argv: readonly string[]): string[] | null {
  const at = argv.findIndex((a, i) => a === '--workload=multiturn' || (a === '--workload' && argv[i + 1] === 'multiturn'));
  if (at < 0) return null;
  return [...argv.slice(0, at), ...argv.slice(at + (argv[at] === '--workload' ? 2 : 1))];
}

async function loadWorkload(args: BenchArgs): Promise<Workload> {
  if (args.trace !== null) {
    const file = args.trace;
    const entries = await readTrace(file).catch((e: unknown) => {
      if (e instanceof TraceLineError) throw new BenchArgumentError('--trace', `${file}: ${e.message}`);
      const code = (e as { code?: unknown }).code;
      throw new BenchArgumentError('--trace', `cannot read ${file} (${typeof code === 'string' ? code : (e as Error).message})`);
    });
    if (entries.length === 0) throw new BenchArgumentError('--trace', `${args.trace} holds no requests`);
    return traceToWorkload(entries.slice(0, args.requests), { seed: args.seed, name: `trace ${args.trace}` });
  }
  return generateWorkload({ mix: args.workload ?? 'chat', count: args.requests, seed: args.seed, arrival: args.arrival });
}

function round3(x: number): number {
  return Number(x.toPrecision(3));
}
