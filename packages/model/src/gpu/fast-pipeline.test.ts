import { afterAll, describe, expect, it } from 'vitest';
import { ArrayKvBacking, closeBackend, initBackend, loadModel } from '../index.js';
import { checkGpuKernels } from '../gpu-checks.js';
import { maxAbsDiff, smallConfig } from '../testing/fixtures.js';

// The hand-built WebGPU pipeline needs a real WebGPU adapter: a GPU (gpu/run-gpu-checks) or
// Mesa's lavapipe here (see gpu/README.md). Opt in with BATON_TEST_WEBGPU=1 (and VK_DRIVER_FILES).
describe.skipIf(process.env['BATON_TEST_WEBGPU'] !== '1')('hand-built WebGPU pipeline (BATON_TEST_WEBGPU=1)', () => {
  afterAll(async () => {
    await closeBackend();
  });

  it('matches the tfjs path and every fused kernel matches the generic ops', async () => {
    await initBackend('webgpu');
    const checks = checkGpuKernels();
    expect(checks.filter((c) => c.name.startsWith('fast pipeline')).length).toBe(16);
    expect(checks.filter((c) => !c.ok)).toEqual([]);
  }, 300_000);

  it('decodes handed-over K/V (written straight into the pool) exactly as the model that prefilled them', async () => {
    await initBackend('webgpu');
    // NOTE: nEmbd 64: the hand-built pipeline takes widths that are multiples of 64.
    const config = smallConfig({ nPositions: 256, nEmbd: 64, nInner: 256 });
    const backing = (): ArrayKvBacking => new ArrayKvBacking({ nLayer: config.nLayer, nEmbd: config.nEmbd });
    const a = await loadModel({ config, seed: 4 });
    const b = await loadModel({ config, seed: 4 });
    // 5 rows: part of a page; 150: three pages (64 rows each).
    for (const n of [5, 150]) {
      const prompt = Array.from({ length: n }, (_, i) => (i * 13 + n) % 256);
      const shared = backing();
      a.prefill(a.attach(shared), prompt);
      const handed = b.attach(shared, { length: n });
      const own = a.attach(backing());
      a.prefill(own, prompt);
      for (let step = 0; step < 2; step++) {
        const token = (step * 7 + n) % 256;
        expect(maxAbsDiff(b.decode([{ seq: handed, token }]), a.decode([{ seq: own, token }]))).toBe(0);
      }
    }
    a.dispose();
    b.dispose();
  }, 300_000);

  it('parks the device when the last model is dropped and makes a new one for the next model', async () => {
    await initBackend('webgpu');
    const config = smallConfig({ nPositions: 200 });
    const backing = (): ArrayKvBacking => new ArrayKvBacking({ nLayer: config.nLayer, nEmbd: config.nEmbd });
    const prompt = Array.from({ length: 40 }, (_, i) => (i * 7) % 256);
    const first = await loadModel({ config, seed: 5 });
    const a = first.prefill(first.attach(backing()), prompt);
    first.dispose();
    const second = await loadModel({ config, seed: 5 });
    const b = second.prefill(second.attach(backing()), prompt);
    second.dispose();
    expect(maxAbsDiff(a, b)).toBe(0);
  }, 300_000);
});
