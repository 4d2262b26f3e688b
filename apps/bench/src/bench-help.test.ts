import { describe, expect, it } from 'vitest';
import { BENCH_USAGE, parseBenchArgs } from './bench-args.js';
import { benchDefaults } from './bench-help.js';

describe('baton bench --help defaults', () => {
  it('come from the parser: the values a run gets when a flag is absent', () => {
    const a = parseBenchArgs(['--workload', 'chat', '--slo-ttft', '1', '--slo-tpot', '1']);
    const text = benchDefaults();
    expect(text).toMatch(/^defaults:\n/);
    expect(text).toContain(`--modes ${a.modes.join(',')}`);
    expect(text).toContain(`--requests ${a.requests} (64 with --quick)`);
    expect(text).toContain(`--reps ${a.reps}`);
    expect(text).toContain('--arrival poisson (--cv 2 with gamma)');
    expect(text).toMatch(/--rate 4 \(chat\); 2 \(summarize, generate\); 1 \(a trace\) req\/s/);
    expect(text).toContain('--run-seconds: 10 with --quick, else no cap');
  });

  it('name every flag the usage names that has a value to default', () => {
    const text = benchDefaults();
    for (const flag of ['--modes', '--model', '--rate', '--requests', '--reps', '--seed', '--arrival', '--threads', '--chunks', '--tune-rate', '--run-seconds', '--backend', '--placement', '--prefill-nice', '--out', '--json']) {
      expect(BENCH_USAGE).toContain(flag);
      expect(text).toContain(flag);
    }
  });
});
