/**
 * `baton bench`: compares engine modes on one workload in one run — same seed, same requests,
 * same number of model worker threads — and reports goodput, SLO attainment per rate, latency
 * percentiles and the SLO-scale sweep; writes charts, raw records and a JSON summary.
 *
 * Invariants: never throws; returns the exit code (0 done, 2 bad arguments with a one-line error
 * naming the argument, 1 any other failure). Progress goes to stderr, the tables to stdout.
 */
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import { BENCH_USAGE, parseBenchArgs, type BenchArgs } from './bench-args.js';
import { BenchArgumentError } from './bench-errors.js';
import { formatTables, summaryJson, writeOutputs, type ReportContext } from './bench-report.js';
import { runSuite } from './bench-suite.js';
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
    io.stdout(`${BENCH_USAGE}\n`);
    return 0;
  }
  try {
    return await run(args, argv, io);
  } catch (e) {
    io.stderr(`\nbaton bench: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
}

async function run(args: BenchArgs, argv: string[], io: BenchIo): Promise<number> {
  const workload = await loadWorkload(args);
  if (args.writeTrace !== null) {
    await writeTrace(args.writeTrace, workloadToTrace(workload));
    io.stderr(`wrote trace ${args.writeTrace} (${workload.requests.length} requests)\n`);
  }
  const date = new Date().toISOString();
  let transient = false;
  const log = (line: string, isTransient = false): void => {
    if (io.tty) io.stderr(`\r\x1b[2K${line}${isTransient ? '' : '\n'}`);
    else if (!isTransient) io.stderr(`${line}\n`);
    transient = isTransient;
  };
  log(`baton bench: ${workload.name}, ${workload.requests.length} requests per rate, modes ${args.modes.join(', ')}`);
  const result = await runSuite({
    modes: args.modes,
    workload,
    slo: args.slo,
    rates: args.rates.kind === 'list' ? args.rates : { ...args.rates, bisectSteps: args.quick ? 2 : 3, down: args.quick ? 2 : 8 },
    threads: { prefill: args.prefill, decode: args.decode, colocated: args.colocated },
    engine: {
      backend: args.backend,
      ...(args.chunk === null ? {} : { prefillChunkSize: args.chunk, tokenBudget: Math.max(512, args.chunk) }),
      ...(args.prefillNice === 'default' ? {} : { prefillNice: args.prefillNice === 'off' ? null : args.prefillNice }),
    },
    drainMs: args.quick ? 8_000 : 20_000,
    stopEarly: args.quick,
    maxRunSeconds: args.quick ? 10 : null,
    warmUpSeconds: args.quick ? 8 : 15,
    log,
  });
  if (transient && io.tty) io.stderr('\n');
  const ctx: ReportContext = {
    command: `baton bench ${argv.join(' ')}`,
    date,
    workload: workload.name,
    slo: args.slo,
    requestsPerRate: workload.requests.length,
    loadAverage: loadavg(),
  };
  io.stdout(formatTables(result, ctx));
  const dir = args.out ?? join('bench-out', date.replace(/[:.]/g, '-'));
  const files = await writeOutputs(dir, result, ctx);
  if (args.json !== null) await writeFile(args.json, JSON.stringify(summaryJson(result, ctx), null, 2) + '\n');
  io.stdout(`\nwrote ${files.join(', ')}${args.json === null ? '' : `, ${args.json}`}\n`);
  return 0;
}

async function loadWorkload(args: BenchArgs): Promise<Workload> {
  if (args.trace !== null) {
    const entries = await readTrace(args.trace);
    if (entries.length === 0) throw new BenchArgumentError('--trace', `${args.trace} holds no requests`);
    return traceToWorkload(entries.slice(0, args.requests), { seed: args.seed, name: `trace ${args.trace}` });
  }
  return generateWorkload({ mix: args.workload ?? 'chat', count: args.requests, seed: args.seed, arrival: args.arrival });
}
