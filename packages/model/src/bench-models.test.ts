import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BENCH_MODELS } from './bench-models.js';
import { validateConfig } from './config.js';
import { BUILTIN_MODELS, backendMemory, describeModel, expectedShapes, initBackend, loadModel, saveCheckpoint } from './index.js';

let dir: string;
beforeAll(async () => {
  await initBackend('cpu');
  dir = mkdtempSync(join(tmpdir(), 'baton-bench-models-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function parameters(name: string): number {
  return [...expectedShapes(BENCH_MODELS[name].config).values()].reduce((a, s) => a + s.reduce((x, y) => x * y, 1), 0);
}

describe('bench models', () => {
  it('are built-in names with valid GPT-2 configs of the advertised sizes', () => {
    for (const [name, m] of Object.entries(BENCH_MODELS)) {
      expect(BUILTIN_MODELS).toContain(name);
      expect(validateConfig(m.config)).toEqual(m.config);
      expect(describeModel(name).config).toEqual(m.config);
      expect(describeModel(name).tokenizer.kind).toBe('bytes');
    }
    expect(parameters('baton-8x512') / 1e6).toBeCloseTo(25.9, 0);
    expect(parameters('baton-12x768') / 1e6).toBeCloseTo(86.0, 0);
  });

  it('baton-4x256 is baton-tiny: same shape, same weights', async () => {
    const a = await loadModel('baton-4x256');
    const b = await loadModel('baton-tiny');
    expect(a.config).toEqual(b.config);
    // NOTE: byte comparison; vitest's deep equality over millions of floats takes tens of seconds.
    for (const [name, t] of a.weights) expect(Buffer.from(t.data.buffer).equals(Buffer.from(b.weights.get(name)!.data.buffer)), name).toBe(true);
    a.dispose();
    b.dispose();
  });

  it('saves as a checkpoint directory that loads back with the same weights and logits', async () => {
    const before = backendMemory().numTensors;
    const m = await loadModel('baton-4x256');
    saveCheckpoint(dir, m);
    const back = await loadModel(dir);
    const run = (x: typeof m): Float32Array => {
      const seq = x.attach({ capacity: 8, write: () => {}, read: () => {} });
      const out = x.prefill(seq, [104, 105, 33]);
      seq.release();
      return out;
    };
    expect(run(back)).toEqual(run(m));
    m.dispose();
    back.dispose();
    expect(backendMemory().numTensors).toBe(before);
  });
});
