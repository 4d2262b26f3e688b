import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArrayKvBacking, closeBackend, generate, initBackend, loadModel, type Gpt } from '../index.js';
import { maxAbsDiff, smallConfig } from '../testing/fixtures.js';
import { checkKernels } from './kernel-checks.js';
import { referenceOps } from './forward-ops.js';

// The GPU path's host-thread plumbing (sync calls, KV write-back, handoff loads, paged pool)
// runs here on tfjs cpu inside the host thread; the GPU check script runs it on WebGPU.
const config = smallConfig({ nPositions: 200 });
const backing = (): ArrayKvBacking => new ArrayKvBacking({ nLayer: config.nLayer, nEmbd: config.nEmbd });

describe('GPU path (host thread on tfjs cpu)', () => {
  let cpu: Gpt;
  let gpu: Gpt;
  beforeAll(async () => {
    await initBackend('cpu');
    cpu = await loadModel({ config, seed: 3 });
    await initBackend('webgpu', { gpuHost: 'cpu' });
    gpu = await loadModel({ config, seed: 3 });
  });
  afterAll(async () => {
    await closeBackend();
  });

  it('prefill and batched decode match the in-thread model', () => {
    const prompts = [[1, 2, 3], Array.from({ length: 90 }, (_, i) => (i * 7) % 256), [9]];
    const seqs = prompts.map(() => [cpu.attach(backing()), gpu.attach(backing())] as const);
    prompts.forEach((p, i) => {
      const [a, b] = seqs[i];
      expect(maxAbsDiff(cpu.prefill(a, p, { chunkSize: 32 }), gpu.prefill(b, p, { chunkSize: 32 }))).toBeLessThan(1e-4);
    });
    for (let step = 0; step < 3; step++) {
      const la = cpu.decode(seqs.map(([a], i) => ({ seq: a, token: (step + i) % 256 })));
      const lb = gpu.decode(seqs.map(([, b], i) => ({ seq: b, token: (step + i) % 256 })));
      expect(maxAbsDiff(la, lb)).toBeLessThan(1e-4);
    }
    const ids = gpu.decodeGreedy(seqs.map(([, b]) => ({ seq: b, token: 5 })));
    const ref = cpu.decodeGreedy(seqs.map(([a]) => ({ seq: a, token: 5 })));
    expect([...ids]).toEqual([...ref]);
    for (const [a, b] of seqs) { a.release(); b.release(); }
  });

  it('writes every K/V row to the backing and resumes a handed-off sequence from it', () => {
    const prompt = Array.from({ length: 70 }, (_, i) => (i * 11) % 256);
    const kv = backing();
    const seq = gpu.attach(kv);
    const layers: number[] = [];
    gpu.prefill(seq, prompt, { onLayerDone: (l) => layers.push(l) });
    expect(layers).toEqual([0, 1]);
    seq.release();
    const resumed = gpu.attach(kv, { length: prompt.length });
    const ref = cpu.attach(backing());
    cpu.prefill(ref, prompt);
    expect(maxAbsDiff(gpu.decode([{ seq: resumed, token: 4 }]), cpu.decode([{ seq: ref, token: 4 }]))).toBeLessThan(1e-4);
    resumed.release();
    ref.release();
  });

  it('a layer callback that throws fails its call and leaves the next call in step with the host', () => {
    const prompt = Array.from({ length: 30 }, (_, i) => (i * 5) % 256);
    const seq = gpu.attach(backing());
    expect(() => gpu.prefill(seq, prompt, { onLayerDone: () => { throw new Error('handoff cancelled'); } })).toThrow('handoff cancelled');
    seq.release();
    const again = gpu.attach(backing());
    const ref = cpu.attach(backing());
    expect(maxAbsDiff(gpu.prefill(again, [7, 8, 9]), cpu.prefill(ref, [7, 8, 9]))).toBeLessThan(1e-4);
    again.release();
    ref.release();
  });

  it('a disposed model is dropped at once and another loads on the same host thread', async () => {
    const extra = await loadModel({ config, seed: 3 });
    extra.dispose();
    extra.dispose();
    const again = await loadModel({ config, seed: 3 });
    const seq = again.attach(backing());
    const ref = gpu.attach(backing());
    expect(maxAbsDiff(again.prefill(seq, [1, 2, 3]), gpu.prefill(ref, [1, 2, 3]))).toBeLessThan(1e-6);
    seq.release();
    ref.release();
    again.dispose();
  });

  it('generate on the GPU path equals generate in-thread', () => {
    const a = generate(gpu, { promptIds: [5, 6, 7], maxTokens: 12 });
    expect(a.ids.length).toBe(12);
    expect(a.ids).toEqual(generate(cpu, { promptIds: [5, 6, 7], maxTokens: 12 }).ids);
  });
});

describe('GPU host thread lifetime (tfjs cpu)', () => {
  it('disposing a model after closeBackend does nothing', async () => {
    await initBackend('webgpu', { gpuHost: 'cpu' });
    const m = await loadModel({ config, seed: 4 });
    await closeBackend();
    expect(() => m.dispose()).not.toThrow();
  });
});

describe('kernel checks (reference ops against themselves)', () => {
  it('reports every kernel and all pass', async () => {
    await initBackend('cpu');
    const checks = await checkKernels(referenceOps);
    expect(checks.length).toBe(12);
    expect(checks.filter((c) => !c.ok)).toEqual([]);
  });
});
