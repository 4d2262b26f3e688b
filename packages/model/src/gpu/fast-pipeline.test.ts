import { afterAll, describe, expect, it } from 'vitest';
import { checkGpuKernels, closeBackend, initBackend } from '../index.js';

// The hand-built WebGPU pipeline needs a real WebGPU adapter: the lent GPU (gpu/run-gpu-checks) or
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
});
