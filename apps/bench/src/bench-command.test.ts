import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { benchCommand, type BenchIo } from './bench-command.js';

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
