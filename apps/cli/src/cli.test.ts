import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { withTestModel } from './testing/test-model.js';

// NOTE: runs the compiled bin (npm test builds first), exactly as `npx baton` does.
const BIN = fileURLToPath(new URL('../bin/baton.js', import.meta.url));

function run(args: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...withTestModel(args)], { encoding: 'utf8', env: { ...process.env, BATON_BACKEND: 'wasm', ...env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('baton CLI', () => {
  it('logits prints one row per input position', () => {
    const out = JSON.parse(execFileSync(process.execPath, [BIN, ...withTestModel(['logits', '--ids', '3,17,42'])], { encoding: 'utf8' })) as { logits: number[][] };
    expect(out.logits).toHaveLength(3);
    expect(out.logits[0]).toHaveLength(256);
  });

  it('generate --json returns the generated ids, text and backend; greedy is deterministic', () => {
    const args = ['generate', '--ids', '1,2,3', '--max-tokens', '5', '--json'];
    const a = JSON.parse(run(args).stdout) as { ids: number[]; text: string; backend: string };
    expect(a.ids).toHaveLength(5);
    expect(a.backend).toBe('wasm');
    expect(typeof a.text).toBe('string');
    expect(JSON.parse(run(args).stdout).ids).toEqual(a.ids);
    const sampled = (seed: string): number[] =>
      (JSON.parse(run(['generate', '--prompt', 'Hi', '--max-tokens', '6', '--temperature', '1', '--top-p', '0.9', '--seed', seed, '--json']).stdout) as { ids: number[] }).ids;
    expect(sampled('7')).toEqual(sampled('7'));
  });

  it('generate without --json escapes control bytes (plain and engine paths); --json keeps the exact text', () => {
    // NOTE: temperature 5 samples nearly uniformly over the 256 byte tokens: control bytes are certain.
    const args = ['generate', '--model', 'baton-tiny', '--prompt', 'Hi', '--max-tokens', '64', '--temperature', '5', '--seed', '3'];
    const exact = (JSON.parse(run([...args, '--json']).stdout) as { text: string }).text;
    const controls = (text: string): string[] => [...text].filter((c) => /[\x00-\x08\x0b-\x1f\x7f]/.test(c));
    expect(controls(exact).length).toBeGreaterThan(0);
    for (const extra of [[], ['--mode', 'colocated', '--colocated', '1']]) {
      const r = run([...args, ...extra]);
      expect(r.status).toBe(0);
      expect(controls(r.stdout)).toEqual([]);
      expect(r.stdout).toMatch(/\\x[0-9a-f]{2}/);
    }
  });

  it('bad arguments exit non-zero with a one-line error naming the argument', () => {
    const cases: Array<[string[], RegExp]> = [
      [['generate', '--prompt', 'x', '--max-tokens', '-1'], /^baton generate: --max-tokens: expected an integer >= 0, got "-1"$/],
      [['generate', '--prompt', 'x', '--max-tokens', '2', '--temperature', '-1'], /^baton generate: --temperature: expected a number >= 0, got "-1"$/],
      [['generate', '--prompt', 'x', '--max-tokens', '2', '--top-p', '2'], /^baton generate: --top-p: expected a number in \(0, 1\], got "2"$/],
      [['generate', '--prompt', 'x', '--max-tokens', '2', '--top-p', '-0.5'], /--top-p: expected a number in \(0, 1\], got "-0.5"/],
      [['demo', '--requests', '-3'], /^baton demo: --requests: expected an integer in \[1, 200\], got "-3"$/],
      [['generate', '--prompt', 'x', '--max-tokens', '--json'], /--max-tokens/],
      [['generate', '--max-tokens', '2'], /--ids\/--prompt/],
      [['logits', '--ids', '1,x'], /--ids/],
      [['logits', '--ids', '1', '--backend', 'tpu'], /--backend/],
      [['logits', '--ids', '1', '--model', '/no/such/dir'], /\/no\/such\/dir/],
      [['logits', '--ids', '1', '--bogus'], /--bogus/],
    ];
    for (const [args, pattern] of cases) {
      const r = run(args);
      expect(r.status).not.toBe(0);
      const lines = r.stderr.split('\n').filter((l) => l.startsWith('baton'));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(pattern);
    }
  });

  it('--help on every command lists every option with its default, without loading TensorFlow.js', () => {
    // NOTE: a module hook that fails any import of @tensorflow/*: help must not start the model.
    const dir = mkdtempSync(join(tmpdir(), 'baton-help-'));
    try {
      writeFileSync(join(dir, 'hooks.mjs'), "export async function resolve(s, c, next) { if (s.startsWith('@tensorflow/')) throw new Error('loaded ' + s); return next(s, c); }\n");
      writeFileSync(join(dir, 'register.mjs'), "import { register } from 'node:module';\nregister('./hooks.mjs', import.meta.url);\n");
      const noTf = (args: string[]) => run(args, { NODE_OPTIONS: `--import ${join(dir, 'register.mjs')}` });
      const top = noTf(['--help']);
      expect(top.status).toBe(0);
      for (const name of ['generate', 'logits', 'demo', 'serve', 'bench']) expect(top.stdout).toMatch(new RegExp(`^  ${name} `, 'm'));
      for (const [name, flags] of [['generate', ['--max-tokens N', '--top-p P', '--mode', '--placement']], ['logits', ['--ids']], ['demo', ['--requests N', '--max-tokens N']], ['serve', ['--port PORT', '--api-key KEY']]] as const) {
        for (const args of [[name, '--help'], ['help', name], [name, '--prompt', 'x', '-h']]) {
          const r = noTf(args);
          expect(r.status, `${args.join(' ')}: ${r.stderr}`).toBe(0);
          expect(r.stdout).toMatch(new RegExp(`^usage: baton ${name} `, 'm'));
          for (const flag of flags) expect(r.stdout).toContain(`  ${flag}`);
          expect(r.stdout).toMatch(/\(default: /);
        }
      }
      // The hook is not vacuous: a command that runs does load TensorFlow.js and fails under it.
      expect(noTf(['logits', '--ids', '1']).stderr).toMatch(/loaded @tensorflow\//);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const bench = run(['bench', '--help']);
    expect(bench.status).toBe(0);
    expect(bench.stdout).toMatch(/usage: baton bench/);
    expect(bench.stdout).toMatch(/^defaults:\n  --modes /m);
  });

  it('bench with a missing trace prints one line naming --trace and exits 2', () => {
    const r = run(['bench', '--trace', '/nonexistent', '--slo-ttft', '250', '--slo-tpot', '2']);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('baton bench: --trace: cannot read /nonexistent (ENOENT)\n');
  });

  it('prints usage for an unknown command', () => {
    const r = run(['frobnicate']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/unknown command "frobnicate"[\s\S]*usage:/);
  });

  // NOTE: an empty Vulkan driver list (VK_DRIVER_FILES) gives Dawn no adapter even on a machine
  // with a GPU, so this runs the same everywhere on Linux.
  it.runIf(process.platform === 'linux')('--backend webgpu without a GPU adapter says so and what to do, not how to install packages', () => {
    const dir = mkdtempSync(join(tmpdir(), 'baton-no-gpu-'));
    try {
      writeFileSync(join(dir, 'none.json'), '{}');
      const r = run(['logits', '--ids', '1', '--backend', 'webgpu'], { VK_DRIVER_FILES: join(dir, 'none.json') });
      expect(r.status).toBe(1);
      const lines = r.stderr.split('\n').filter((l) => l.startsWith('baton'));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/no GPU adapter was found/);
      expect(lines[0]).toMatch(/wasm/);
      expect(lines[0]).not.toMatch(/npm install/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

