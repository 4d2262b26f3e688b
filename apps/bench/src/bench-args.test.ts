import { describe, expect, it } from 'vitest';
import { parseBenchArgs } from './bench-args.js';
import { BenchArgumentError } from './bench-errors.js';
import { benchCommand } from './bench-command.js';

const base = ['--workload', 'chat', '--slo-ttft', '200', '--slo-tpot', '10'];

describe('parseBenchArgs', () => {
  it('parses a full command line', () => {
    const a = parseBenchArgs([...base, '--modes', 'disaggregated,chunked', '--rates=1,2.5', '--quick', '--seed', '3', '--prefill', '2', '--decode', '2', '--colocated', '4', '--arrival', 'gamma', '--cv', '3']);
    expect(a.modes).toEqual(['disaggregated', 'chunked']);
    expect(a.rates).toEqual({ kind: 'list', rates: [1, 2.5] });
    expect(a.quick).toBe(true);
    expect(a.seed).toBe(3);
    expect(a.splits).toEqual([{ prefill: 2, decode: 2 }]);
    expect(a.colocated).toBe(4);
    expect(a.arrival).toEqual({ kind: 'gamma', cv: 3 });
    expect(a.slo).toEqual({ kind: 'fixed', ttftMs: 200, tpotMs: 10 });
  });

  it('defaults: all three modes, a search, 1P+1D vs 2 colocated, 3 repetitions, chunk sizes to try, roofline on', () => {
    const a = parseBenchArgs(base);
    expect(a.modes).toEqual(['disaggregated', 'colocated', 'chunked']);
    expect(a.rates.kind).toBe('search');
    expect(a.splits).toEqual([{ prefill: 1, decode: 1 }]);
    expect(a.colocated).toBe(2);
    expect(a.prefillNice).toBe('default');
    expect(a.model).toBe('baton-austen');
    expect(a.reps).toBe(3);
    expect(a.chunks).toEqual([64, 128, 256]);
    expect([a.roofline, a.admission, a.prefillBackend, a.decodeBackend]).toEqual([true, false, null, null]);
  });

  it('--threads N tries every split P + D = N; --slo-scale replaces fixed targets', () => {
    const a = parseBenchArgs(['--workload', 'chat', '--slo-scale', '3', '--threads', '4', '--model', 'baton-8x512', '--reps', '5']);
    expect(a.splits).toEqual([{ prefill: 1, decode: 3 }, { prefill: 2, decode: 2 }, { prefill: 3, decode: 1 }]);
    expect(a.colocated).toBe(4);
    expect(a.slo).toEqual({ kind: 'scale', k: 3, ttftK: 3 });
    expect(parseBenchArgs(['--workload', 'chat', '--slo-scale', '2', '--slo-scale-ttft', '8']).slo).toEqual({ kind: 'scale', k: 2, ttftK: 8 });
    expect([a.model, a.reps]).toEqual(['baton-8x512', 5]);
    const some = parseBenchArgs(['--workload', 'chat', '--slo-scale', '3', '--threads', '16', '--splits', '4:12,8:8', '--run-seconds', '5']);
    expect(some.splits).toEqual([{ prefill: 4, decode: 12 }, { prefill: 8, decode: 8 }]);
    expect(some.runSeconds).toBe(5);
  });

  it('per-role backends, chunk candidates, admission, no roofline', () => {
    const a = parseBenchArgs([...base, '--prefill-backend', 'webgpu', '--decode-backend', 'wasm', '--chunks', '32,96', '--admission', '--no-roofline', '--tune-rate', '0.5']);
    expect([a.prefillBackend, a.decodeBackend]).toEqual(['webgpu', 'wasm']);
    expect(a.chunks).toEqual([32, 96]);
    expect([a.admission, a.roofline, a.tuneRate]).toEqual([true, false, 0.5]);
    expect(parseBenchArgs([...base, '--chunk', '48']).chunks).toEqual([48]);
  });

  it('--prefill-nice takes a nice value or off', () => {
    expect(parseBenchArgs([...base, '--prefill-nice', '5']).prefillNice).toBe(5);
    expect(parseBenchArgs([...base, '--prefill-nice=off']).prefillNice).toBe('off');
    expect(parseBenchArgs([...base, '--backend', 'webgpu']).backend).toBe('webgpu');
  });

  it.each([
    [['--slo-ttft', '200', '--slo-tpot', '10'], '--workload'],
    [[...base, '--modes', 'disaggregated,fast'], '--modes'],
    [[...base, '--rate', '0'], '--rate'],
    [[...base, '--rate', '2', '--rates', '1,2'], '--rates'],
    [[...base, '--rates', '1,,2'], '--rates'],
    [['--workload', 'chat', '--slo-tpot', '10'], '--slo-ttft'],
    [[...base, '--slo-tpot', '5'], '--slo-tpot'],
    [[...base, '--prefill', '2', '--colocated', '2'], '--colocated'],
    [[...base, '--seed', 'x'], '--seed'],
    [[...base, '--cv', '2'], '--cv'],
    [[...base, '--bogus'], '--bogus'],
    [[...base, '--json'], '--json'],
    [[...base, '--prefill-nice', '20'], '--prefill-nice'],
    [[...base, '--prefill-nice', 'low'], '--prefill-nice'],
    [[...base, '--backend', 'cuda'], '--backend'],
    [['--workload', 'poems', '--slo-ttft', '1', '--slo-tpot', '1'], '--workload'],
    [['--workload', 'chat'], '--slo-ttft'],
    [[...base, '--slo-scale', '2'], '--slo-scale'],
    [['--workload', 'chat', '--slo-scale', '-1'], '--slo-scale'],
    [[...base, '--threads', '4', '--prefill', '1'], '--threads'],
    [[...base, '--threads', '1'], '--threads'],
    [[...base, '--model', 'no-such-model'], '--model'],
    [[...base, '--prefill-backend', 'tpu'], '--prefill-backend'],
    [[...base, '--chunk', '64', '--chunks', '32,64'], '--chunks'],
    [[...base, '--reps', '0'], '--reps'],
    [['--workload', 'chat', '--slo-scale-ttft', '8'], '--slo-scale-ttft'],
    [[...base, '--threads', '4', '--splits', '2:3'], '--splits'],
    [[...base, '--threads', '4', '--splits', '2-2'], '--splits'],
  ])('rejects %j naming %s', (argv, flag) => {
    expect(() => parseBenchArgs(argv)).toThrow(BenchArgumentError);
    expect(() => parseBenchArgs(argv)).toThrow(new RegExp(`^${flag}`));
  });
});

describe('benchCommand', () => {
  it('exits 2 with one line naming the argument', async () => {
    const err: string[] = [];
    const code = await benchCommand([...base, '--rate', 'fast'], { stdout: () => undefined, stderr: (t) => err.push(t), tty: false });
    expect(code).toBe(2);
    expect(err.join('')).toMatch(/^baton bench: --rate: .*\n$/);
    expect(err.join('').split('\n')).toHaveLength(2);
  });

  it('--help prints usage and exits 0', async () => {
    const out: string[] = [];
    expect(await benchCommand(['--help'], { stdout: (t) => out.push(t), stderr: () => undefined, tty: false })).toBe(0);
    expect(out.join('')).toContain('usage: baton bench');
  });
});
