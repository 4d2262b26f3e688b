/**
 * The defaults part of `baton bench --help`: what each optional flag is when it is not given (the
 * usage text above it lists the flags). Invariant: the values are read from parseBenchArgs itself
 * (arguments parsed with only the required flags), so the help cannot drift from the parser.
 */
import { parseBenchArgs, type BenchArgs, type BenchMix } from './bench-args.js';

const REQUIRED = ['--slo-ttft', '1', '--slo-tpot', '1'];
const MIXES: readonly BenchMix[] = ['chat', 'summarize', 'generate'];

/** The defaults of every optional flag, as printed after the usage by `baton bench --help`. */
export function benchDefaults(): string {
  const parse = (...args: string[]): BenchArgs => parseBenchArgs([...args, ...REQUIRED]);
  const d = parse('--workload', 'chat');
  const quick = parse('--workload', 'chat', '--quick');
  const perMix = (f: (a: BenchArgs) => string): string => {
    const byValue = new Map<string, string[]>();
    for (const [source, value] of [...MIXES.map((m) => [m, f(parse('--workload', m))]), ['a trace', f(parse('--trace', 'trace.jsonl'))]]) {
      byValue.set(value, [...(byValue.get(value) ?? []), source]);
    }
    const groups = [...byValue];
    return groups.length === 1 ? groups[0][0] : groups.map(([value, sources]) => `${value} (${sources.join(', ')})`).join('; ');
  };
  const start = (a: BenchArgs): string => (a.rates.kind === 'search' ? `${a.rates.start}` : 'fixed');
  const gamma = parse('--workload', 'chat', '--arrival', 'gamma').arrival;
  return [
    'defaults:',
    `  --modes ${d.modes.join(',')}`,
    `  --model ${perMix((a) => a.model)}`,
    `  --rate ${perMix(start)} req/s (where the goodput search starts; --rates runs a fixed list instead)`,
    `  --requests ${d.requests} (${quick.requests} with --quick)    --reps ${d.reps}    --seed ${d.seed}`,
    `  --arrival ${d.arrival.kind}${gamma.kind === 'gamma' ? ` (--cv ${gamma.cv} with gamma)` : ''}`,
    `  --threads ${d.colocated} (disaggregated tries every P:D split of them)    --chunks ${d.chunks.join(',')}`,
    `  --tune-rate: the first rate    --run-seconds: ${quick.runSeconds ?? 'no cap'} with --quick, else ${d.runSeconds ?? 'no cap'}`,
    `  --backend ${d.backend} ($BATON_BACKEND, else wasm)    --prefill-backend, --decode-backend: --backend`,
    `  --placement ${d.placement}    --prefill-nice: the engine's default    --admission ${d.admission ? 'on' : 'off'}    roofline ${d.roofline ? 'on' : 'off'}`,
    '  --out bench-out/<time>/    --json, --write-trace: none',
    'Exit status: 0 done, 2 a bad argument (one line naming it), 1 any other failure.',
    'See apps/bench/README.md for what each flag does, and docs/metrics.md for the metrics.',
  ].join('\n');
}
