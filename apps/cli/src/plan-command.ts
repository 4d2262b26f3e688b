/**
 * `baton plan --profile P --workload W --slo-ttft X --slo-tpot Y --devices N`: searches P:D splits,
 * prefill token budget, chunk size and decode batch limit over the simulator (the engine's own
 * policies on the profile's step times) for the best goodput per device, and prints the top
 * configurations with their predicted goodput and attainment, plus the engine's default
 * configuration for the same devices. `--trace FILE` plans for a Mooncake-format trace instead.
 */
import { parseArgs } from 'node:util';
import { generateWorkload, readTrace, traceToWorkload, type MixName, type Workload } from '@baton/bench';
import { defaultCandidate, describeCandidate, goodputOf, profileStepTimes, readProfile, searchPlacement, type PlanResult } from '@baton/sim';
import { CliError, parseNumber } from './cli-error.js';
import { withSimErrors } from './with-sim-errors.js';
import { formatTable } from './text-table.js';

/** One-line usage of the command. */
export const PLAN_USAGE = 'baton plan --profile FILE (--workload chat|summarize|generate|multiturn | --trace FILE) --slo-ttft MS --slo-tpot MS --devices N [--requests N] [--seed S] [--top K] [--json]';

const MIXES: readonly MixName[] = ['chat', 'summarize', 'generate', 'multiturn'];

/** Runs the plan command; returns the table (or JSON with --json). */
export function planCommand(args: string[]): Promise<string> {
  return withSimErrors(() => run(args));
}

async function run(args: string[]): Promise<string> {
  const { values } = parseArgs({
    args,
    options: {
      profile: { type: 'string' }, workload: { type: 'string' }, trace: { type: 'string' }, 'slo-ttft': { type: 'string' }, 'slo-tpot': { type: 'string' },
      devices: { type: 'string' }, requests: { type: 'string' }, seed: { type: 'string' }, top: { type: 'string' }, json: { type: 'boolean' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.profile === undefined) throw new CliError('--profile: required (a file written by `baton profile`)');
  if ((values.workload === undefined) === (values.trace === undefined)) throw new CliError('--workload: give exactly one of --workload or --trace');
  const need = (v: string | undefined, flag: string): string => {
    if (v === undefined) throw new CliError(`${flag}: required`);
    return v;
  };
  const slo = {
    ttftMs: parseNumber(need(values['slo-ttft'], '--slo-ttft'), '--slo-ttft', { min: Number.MIN_VALUE, fallback: 0 }),
    tpotMs: parseNumber(need(values['slo-tpot'], '--slo-tpot'), '--slo-tpot', { min: Number.MIN_VALUE, fallback: 0 }),
  };
  const devices = parseNumber(need(values.devices, '--devices'), '--devices', { min: 1, max: 4096, integer: true, fallback: 1 });
  const count = parseNumber(values.requests, '--requests', { min: 16, max: 100_000, integer: true, fallback: 400 });
  const seed = parseNumber(values.seed, '--seed', { min: 0, integer: true, fallback: 1 });
  const top = parseNumber(values.top, '--top', { min: 1, integer: true, fallback: 8 });
  const times = profileStepTimes(readProfile(values.profile));
  const workload = await loadWorkload(values.workload, values.trace, count, seed);
  const requests = workload.requests.map((r) => ({ ...r, arrivalMs: r.arrivalMs * workload.nominalRate }));
  const results = searchPlacement({ times, requests, slo, devices });
  const base = defaultCandidate(devices);
  const baseline = results.find((r) => JSON.stringify(r.candidate) === JSON.stringify(base)) ?? goodputOf(base, { times, requests, slo, devices });
  if (values.json === true) return JSON.stringify({ slo, devices, workload: workload.name, top: results.slice(0, top), default: baseline }, null, 1);
  const row = (r: PlanResult, label: string): string[] => [
    label, describeCandidate(r.candidate), r.goodput.toFixed(2), r.goodputPerDevice.toFixed(2), `${(r.attainment * 100).toFixed(0)}%`, ms(r.ttftP90), ms(r.tpotP90),
  ];
  const columns = [
    { header: '#' }, { header: 'configuration' }, { header: 'goodput req/s', align: 'right' as const }, { header: 'per device', align: 'right' as const },
    { header: 'attainment', align: 'right' as const }, { header: 'TTFT p90', align: 'right' as const }, { header: 'TPOT p90', align: 'right' as const },
  ];
  const rows = [...results.slice(0, top).map((r, i) => row(r, String(i + 1))), row(baseline, 'default')];
  const best = results[0];
  const gain = baseline.goodput > 0 ? `${(best.goodput / baseline.goodput).toFixed(2)}x the default` : 'the default reaches no goodput';
  return [
    `plan: ${workload.name}, ${requests.length} requests, SLO TTFT ${slo.ttftMs} ms / TPOT ${slo.tpotMs} ms at 90%, ${devices} devices, ${results.length} configurations simulated`,
    ...formatTable(columns, rows),
    `recommended: ${describeCandidate(best.candidate)} — predicted goodput ${best.goodput.toFixed(2)} req/s (${gain})`,
  ].join('\n');
}

async function loadWorkload(mix: string | undefined, trace: string | undefined, count: number, seed: number): Promise<Workload> {
  if (trace !== undefined) return traceToWorkload(await readTrace(trace), { name: trace });
  if (!MIXES.includes(mix as MixName)) throw new CliError(`--workload: expected one of ${MIXES.join(', ')}, got "${mix}"`);
  return generateWorkload({ mix: mix as MixName, count, seed });
}

function ms(v: number | null): string {
  return v === null ? '-' : `${v.toFixed(1)} ms`;
}
