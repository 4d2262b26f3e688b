import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { benchCommand, type BenchIo } from './bench-command.js';
import { readTrace } from './trace.js';

function capture(): BenchIo & { out: string; err: string } {
  const io = { out: '', err: '', tty: false, stdout: (t: string) => void (io.out += t), stderr: (t: string) => void (io.err += t) };
  return io;
}

describe('baton bench arguments found bad while running', () => {
  it('an unreadable or malformed trace is one line naming --trace, exit 2', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'baton-bench-'));
    try {
      writeFileSync(join(dir, 'bad.jsonl'), '{"timestamp": 0, "input_length": 8, "output_length": 4}\nnot json\n');
      const cases: Array<[string, RegExp]> = [
        ['/nonexistent/trace.jsonl', /^baton bench: --trace: cannot read \/nonexistent\/trace\.jsonl \(ENOENT\)\n$/],
        [dir, /^baton bench: --trace: cannot read .* \(EISDIR\)\n$/],
        [join(dir, 'bad.jsonl'), /^baton bench: --trace: .*bad\.jsonl: trace line 2: not valid JSON/],
      ];
      for (const [trace, pattern] of cases) {
        const io = capture();
        expect(await benchCommand(['--trace', trace, '--slo-ttft', '250', '--slo-tpot', '2'], io)).toBe(2);
        expect(io.err).toMatch(pattern);
        expect(io.err.trim().split('\n')).toHaveLength(1);
        expect(io.out).toBe('');
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a --write-trace that cannot be written is one line naming it, exit 2', async () => {
    const io = capture();
    expect(await benchCommand(['--workload', 'chat', '--requests', '4', '--write-trace', '/nonexistent/dir/t.jsonl', '--slo-ttft', '250', '--slo-tpot', '2'], io)).toBe(2);
    expect(io.err).toBe('baton bench: --write-trace: cannot write /nonexistent/dir/t.jsonl (ENOENT)\n');
  });
});

describe('baton bench --workload multiturn: the context-caching comparison on conversations', () => {
  it('takes bench:context\'s arguments: a bad one is one line naming it, exit 2; an unreadable --trace too', async () => {
    for (const [argv, pattern] of [
      [['--workload', 'multiturn', '--sessions', '0'], /^baton bench: --sessions: must be a positive integer, got "0"\n$/],
      [['--workload=multiturn', '--trace', '/nonexistent/trace.jsonl'], /^baton bench: --trace: cannot read \/nonexistent\/trace\.jsonl \(ENOENT\)\n$/],
      [['--seed', '2', '--workload', 'multiturn', '--slo-ttft', '250'], /^baton bench: --slo-ttft: unknown argument/],
    ] as Array<[string[], RegExp]>) {
      const io = capture();
      expect(await benchCommand(argv, io), argv.join(' ')).toBe(2);
      expect(io.err).toMatch(pattern);
      expect(io.out).toBe('');
    }
  });

  it('--write-trace writes the seeded sessions as a Mooncake-format trace (3-8 turns each, prefixes shared) and exits 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'baton-bench-'));
    try {
      const file = join(dir, 'conversations.jsonl');
      const io = capture();
      expect(await benchCommand(['--workload', 'multiturn', '--sessions', '3', '--seed', '5', '--write-trace', file], io)).toBe(0);
      const entries = await readTrace(file);
      expect(entries.length).toBeGreaterThanOrEqual(9);
      expect(entries.length).toBeLessThanOrEqual(24);
      // NOTE: a later turn re-sends the conversation, so its hash ids start with an earlier turn's.
      const starts = (a: readonly number[], b: readonly number[]): boolean => b.length > 0 && b.every((h, i) => a[i] === h);
      expect(entries.some((e, i) => entries.slice(0, i).some((p) => starts(e.hash_ids ?? [], p.hash_ids ?? [])))).toBe(true);
      expect(io.out).toMatch(/wrote .*conversations\.jsonl: \d+ requests of 3 sessions/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
