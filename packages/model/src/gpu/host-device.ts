/// <reference types="@webgpu/types" />
/**
 * The GPU host thread's device lifecycle: start (navigator.gpu from the `webgpu` package, set up
 * BEFORE tfjs-backend-webgpu is imported, since it registers only if navigator.gpu exists), drain
 * (tfjs's pending commands submitted, then queue.onSubmittedWorkDone), park (drain, tfjs's webgpu
 * backend removed, the device destroyed and its `lost` promise settled) and unpark (the same tfjs
 * backend factory registered again: a new device).
 * NOTE: why park: a host thread is a worker of its model thread, and Node stops it whenever that
 * thread ends (an engine closing its actors terminates their threads, with no hook left to run).
 * Stopping a thread whose Dawn device is alive, or has queued work, tears Dawn down from the
 * thread's exit path; the host therefore parks whenever its last model is dropped and on shutdown,
 * so that a host thread is only ever stopped without a device.
 * The Vulkan drivers are pinned in the process before the first instance (vulkan-pin.ts).
 * Invariants: `ready()` before anything touches tfjs or the device; parked => no device exists.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ModelError } from '../errors.js';
import type { GpuHostBackend } from './gpu-protocol.js';
import { pinVulkanDrivers } from './vulkan-pin.js';

/** The parts of tfjs-backend-webgpu's backend used here. */
interface WebGpuBackendInternals {
  device: GPUDevice;
  commandEncoder: GPUCommandEncoder | null;
  endComputePassEncoder(): void;
  submitQueue(): void;
}

type BackendFactory = NonNullable<ReturnType<typeof tf.findBackendFactory>>;

/** How long a park waits for the destroyed device's `lost` promise. */
const LOST_WAIT_MS = 250;

let backendKind: GpuHostBackend = 'cpu';
let factory: BackendFactory | null = null;
let parked = false;

/** Starts this thread's backend; returns the adapter description. */
export async function startDevice(backend: GpuHostBackend): Promise<string> {
  backendKind = backend;
  if (backend === 'cpu') {
    await import('@tensorflow/tfjs-backend-cpu');
    await tf.setBackend('cpu');
    return 'GPU host thread on tfjs cpu (plumbing test mode)';
  }
  type Adapter = { info?: { vendor?: string; architecture?: string; device?: string; description?: string } };
  pinVulkanDrivers();
  const { create, globals } = (await import('webgpu')) as unknown as { create(flags: string[]): { requestAdapter(): Promise<Adapter | null> }; globals: object };
  // NOTE: Dawn rounds timestamp queries to ~65 us by default (a browser privacy measure); the GPU
  // profile times kernels of a few us, so ask for exact timestamps.
  const gpu = create(['disable-dawn-features=timestamp_quantization']);
  Object.assign(globalThis, globals);
  Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  const adapter = await gpu.requestAdapter();
  if (adapter === null) throw new ModelError('MODEL_BACKEND_UNAVAILABLE', 'webgpu: navigator.gpu.requestAdapter() returned null (no GPU adapter)');
  await import('@tensorflow/tfjs-backend-webgpu');
  factory = tf.findBackendFactory('webgpu');
  await activate();
  const i = adapter.info ?? {};
  return `webgpu adapter ${i.vendor ?? '?'} ${i.architecture ?? ''} ${i.device ?? ''} ${i.description ?? ''}`.replace(/\s+/g, ' ').trim();
}

/** The device of the webgpu backend (unparked first), or null on the cpu plumbing backend. */
export async function ready(): Promise<GPUDevice | null> {
  if (backendKind === 'cpu') return null;
  if (parked) {
    if (factory === null) throw new ModelError('GPU_HOST_FAILED', 'webgpu: no backend factory to re-create the parked device');
    tf.registerBackend('webgpu', factory);
    await activate();
    parked = false;
  }
  return internals().device;
}

/** Submits tfjs's pending commands and waits until the GPU has finished every submitted command. */
export async function drain(): Promise<void> {
  if (backendKind === 'cpu' || parked) return;
  const be = internals();
  if (be.commandEncoder !== null && be.commandEncoder !== undefined) {
    be.endComputePassEncoder();
    be.submitQueue();
  }
  await be.device.queue.onSubmittedWorkDone();
}

/**
 * Drains, removes tfjs's webgpu backend (its buffers destroyed) and destroys the device.
 * NOTE: BATON_GPU_PARK=0 keeps the device (diagnosis of the engine-close crash, gpu/README.md).
 */
export async function park(): Promise<void> {
  if (backendKind === 'cpu' || parked || process.env['BATON_GPU_PARK'] === '0') return;
  await drain();
  const device = internals().device;
  tf.removeBackend('webgpu');
  parked = true;
  device.destroy();
  // NOTE: let Dawn deliver the device-lost event while this thread can still take it.
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([device.lost, new Promise((r) => (timer = setTimeout(r, LOST_WAIT_MS)))]);
  clearTimeout(timer);
}

async function activate(): Promise<void> {
  if (!(await tf.setBackend('webgpu'))) throw new ModelError('MODEL_BACKEND_UNAVAILABLE', 'webgpu: tfjs could not initialise the webgpu backend');
  await tf.ready();
  // NOTE: an unhandled Dawn error leaves an exception pending in the binding; report it instead.
  const device = internals().device as unknown as { addEventListener(type: string, fn: (e: { error?: { message?: string } }) => void): void };
  device.addEventListener('uncapturederror', (e) => console.error(`webgpu error: ${e.error?.message ?? 'unknown'}`));
}

function internals(): WebGpuBackendInternals {
  return tf.backend() as unknown as WebGpuBackendInternals;
}
