import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generate, initBackend, loadModel } from '@baton/model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_MODEL, withTestModel } from './testing/test-model.js';

// NOTE: runs the compiled bin (npm test builds first); each run's engine threads live in that
// child process, which must exit by itself (a hang fails the test by its timeout).
const BIN = fileURLToPath(new URL('../bin/baton.js', import.meta.url));

interface Run { status: number | null; stdout: string; stderr: string }

function run(args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...withTestModel(args)], { env: { ...process.env, BATON_BACKEND: 'wasm' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

const PROMPTS = ['Hello there', '', 'The quick brown fox jumps over the lazy dog. '.repeat(4), 'A', 'Relay the baton, then rest.'];
let dir = '';
let promptsFile = '';

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'baton-cli-'));
  promptsFile = join(dir, 'prompts.txt');
  writeFileSync(promptsFile, PROMPTS.join('\n') + '\n');
  writeFileSync(join(dir, 'blank.txt'), '\n\n');
  writeFileSync(join(dir, 'long.txt'), 'ok\n' + 'x'.repeat(1020) + '\n');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Greedy ids of the plain single-model generate, in this thread. */
async function reference(prompts: string[], maxTokens: number): Promise<number[][]> {
  await initBackend('wasm');
  const model = await loadModel(TEST_MODEL);
  try {
    return prompts.map((p) => generate(model, { promptIds: model.tokenizer.encode(p), maxTokens }).ids);
  } finally {
    model.dispose();
  }
}

describe('baton generate through the engine', () => {
  it('--prompts-file prints one JSON line per prompt, indexed by line, with the greedy reference ids', async () => {
    const r = await run(['generate', '--prompts-file', promptsFile, '--max-tokens', '12', '--mode', 'disaggregated', '--prefill', '2', '--decode', '2']);
    expect(r.stderr).not.toMatch(/^baton/m);
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const used = PROMPTS.map((p, i) => (p === '' ? null : i)).filter((i): i is number => i !== null);
    expect(lines.map((l) => l.index).sort()).toEqual(used);
    const expected = await reference(used.map((i) => PROMPTS[i]), 12);
    for (const line of lines) {
      expect(Object.keys(line).sort()).toEqual(
        ['backend', 'elapsedMs', 'ids', 'index', 'mode', 'promptIds', 'stopReason', 'text', 'tpot_ms', 'ttft_ms'],
      );
      expect(line.mode).toBe('disaggregated');
      expect(line.stopReason).toBe('max_tokens');
      expect(typeof line.ttft_ms).toBe('number');
      expect(typeof line.tpot_ms).toBe('number');
      expect(line.ids).toEqual(expected[used.indexOf(line.index as number)]);
    }
  });

  it('--mode chunked --json gives the plain JSON plus mode, ttft_ms and tpot_ms, with the same ids', async () => {
    const args = ['generate', '--prompt', 'Hi there', '--max-tokens', '6', '--json'];
    const plain = JSON.parse((await run(args)).stdout) as Record<string, unknown>;
    const engine = JSON.parse((await run([...args, '--mode', 'chunked', '--colocated', '1'])).stdout) as Record<string, unknown>;
    expect(engine.ids).toEqual(plain.ids);
    expect(engine.text).toEqual(plain.text);
    expect(engine.promptIds).toEqual(plain.promptIds);
    expect(engine.stopReason).toBe(plain.stopReason);
    expect(engine.mode).toBe('chunked');
    expect(engine).toHaveProperty('ttft_ms');
    expect(engine).toHaveProperty('tpot_ms');
    expect(plain).not.toHaveProperty('mode');
  });

  it('bad engine arguments exit non-zero with one line naming the argument', async () => {
    const g = ['generate', '--prompt', 'x', '--max-tokens', '2'];
    const cases: Array<[string[], RegExp]> = [
      [[...g, '--mode', 'turbo'], /--mode: .*"turbo"/],
      [[...g, '--mode', 'disaggregated', '--prefill', '0'], /--prefill/],
      [[...g, '--mode', 'disaggregated', '--decode', '1.5'], /--decode/],
      [[...g, '--decode', '2'], /--decode: needs --mode/],
      [[...g, '--mode', 'disaggregated', '--colocated', '2'], /--colocated: applies to --mode colocated\|chunked/],
      [[...g, '--mode', 'single', '--backend', 'tpu'], /--backend/],
      [['generate', '--prompts-file', join(dir, 'missing.txt'), '--max-tokens', '2'], /--prompts-file: cannot read .*missing\.txt/],
      [['generate', '--prompts-file', join(dir, 'blank.txt'), '--max-tokens', '2'], /--prompts-file: .*no prompts/],
      [['generate', '--prompts-file', join(dir, 'long.txt'), '--max-tokens', '8'], /long\.txt line 2: prompt \(1020 tokens\)/],
      [['generate', '--prompts-file', promptsFile, '--prompt', 'x', '--max-tokens', '2'], /--ids\/--prompt\/--prompts-file/],
      [['demo', '--requests', '0'], /--requests/],
      [['demo', '--mode', 'colocated', '--prefill', '2'], /--prefill/],
      [['demo', '--max-tokens', 'many'], /--max-tokens/],
    ];
    // NOTE: four at a time: the machine is small and shared.
    const results: Run[] = [];
    for (let i = 0; i < cases.length; i += 4) results.push(...(await Promise.all(cases.slice(i, i + 4).map(([args]) => run(args)))));
    results.forEach((r, i) => {
      const lines = r.stderr.split('\n').filter((l) => l.startsWith('baton'));
      expect({ args: cases[i][0].join(' '), status: r.status, lines }).toMatchObject({ status: 1, lines: [expect.stringMatching(cases[i][1])] });
    });
  });
});

describe('baton demo', () => {
  it('runs the real engine in non-TTY mode: plain progress lines, a summary, clean output, exit 0', async () => {
    const r = await run(['demo', '--requests', '4', '--max-tokens', '16', '--prefill', '1', '--decode', '2']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = r.stdout;
    expect(out).toMatch(/^baton demo · disaggregated: 1 prefill \+ 2 decode actors/);
    expect(out).toContain('not printable are shown as \\xNN');
    expect(out).toMatch(/^\[\s*\d+\.\ds\] prefill-0: /m);
    expect(out).toMatch(/^\[\s*\d+\.\ds\] decode-1: .*queue \d+ · running \d+ · kv \d+ · util \d+%/m);
    expect(out).toMatch(/^\[\s*\d+\.\ds\] tokens r00:\d+/m);
    expect(out).toContain('summary: 4 requests');
    for (const id of ['r00', 'r01', 'r02', 'r03']) expect(out).toMatch(new RegExp(`^${id}  \\w+ +\\d+ +\\d+ +\\d+ +[\\d.—]+  length`, 'm'));
    expect(out).toMatch(/^TTFT +\d+ +\d+/m);
    expect(out).toMatch(/^TPOT +[\d.]+ +[\d.]+/m);
    expect(out).toMatch(/^decode-0 +decode +\d+%/m);
    expect(out).toMatch(/^prefix cache: \d+\/\d+ full blocks hit/m);
    expect(out).toMatch(/^length predictor: /m);
    // No escape sequences or other control characters: only newlines.
    expect(out).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f]/);
  });
});
