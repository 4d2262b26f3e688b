/**
 * `@baton/model/gpu-checks`: checks and profilers of the WebGPU path, for gpu/run-gpu-checks.ts
 * and the GPU tests; not part of the runtime API. Each runs in this thread's GPU host thread
 * (started by initBackend('webgpu')); the code they exercise and the checks themselves live in
 * src/gpu/ (kernel-checks.ts, fast-kernel-checks.ts, fast-checks.ts, fast-profile.ts,
 * matmul-sweep.ts).
 */
import { activeGpuHost } from './backend.js';
import { BackendUnavailableError } from './errors.js';
import type { GpuProfileOptions, GpuProfileRow, GpuStepStats, KernelCheck } from './gpu/gpu-protocol.js';

export type { KernelCheck, GpuProfileOptions, GpuProfileRow, GpuStepStats };

/**
 * Runs the fused GPU kernels against the generic tfjs ops in this thread's GPU host thread (on its
 * backend) and returns each check; throws BackendUnavailableError when webgpu is not initialised.
 */
export function checkGpuKernels(): KernelCheck[] {
  const host = activeGpuHost();
  if (host === null) throw new BackendUnavailableError('webgpu', 'checkGpuKernels needs initBackend("webgpu") first');
  return host.call({ type: 'checkKernels' }).checks;
}

/**
 * Profiles the hand-built WebGPU pipeline on a bench model with seeded random weights (prefill and
 * batched decode: host and GPU times per kernel class, optionally a matmul tiling sweep) in this
 * thread's GPU host thread; throws BackendUnavailableError when webgpu is not initialised.
 */
export function profileGpu(options: GpuProfileOptions): GpuProfileRow[] {
  const host = activeGpuHost();
  if (host === null) throw new BackendUnavailableError('webgpu', 'profileGpu needs initBackend("webgpu") first');
  return host.call({ type: 'profile', options }).profile;
}

/**
 * Keeps this thread's GPU busy for about `ms` milliseconds (a saturating loop in the GPU host
 * thread), so that a measurement that follows runs at the clock of a busy GPU; no-op off webgpu.
 */
export function warmGpu(ms: number): void {
  activeGpuHost()?.call({ type: 'spin', ms });
}

/**
 * This thread's GPU host's forward-call totals (dispatches, submits, host encode and run ms) since
 * the last call, restarted; null off webgpu.
 */
export function takeGpuStepStats(): GpuStepStats | null {
  return activeGpuHost()?.call({ type: 'stepStats' }).stepStats ?? null;
}
