/**
 * Backend selection: loads and activates one TensorFlow.js backend for this thread (each worker
 * thread has its own tfjs engine, so one backend per worker). Optional backends are imported
 * dynamically so that a missing one fails with BackendUnavailableError saying how to install it.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { BackendUnavailableError, ModelArgumentError } from './errors.js';
import { GpuClient } from './gpu/gpu-client.js';
import type { GpuHostBackend } from './gpu/gpu-protocol.js';

/** Backends the model can run on. */
export const BACKEND_NAMES = ['wasm', 'cpu', 'webgpu', 'tensorflow'] as const;
/** One of {@link BACKEND_NAMES}. */
export type BackendName = (typeof BACKEND_NAMES)[number];

/** What initBackend activated. */
export interface BackendInfo {
  /** The requested backend name. */
  name: BackendName;
  /** tfjs's name of the active backend (`tensorflow` reports as such). */
  tfBackend: string;
  /** Human-readable detail (package, adapter). */
  detail: string;
}

/** Options of initBackend. */
export interface InitBackendOptions {
  /** Directory (or URL prefix ending in '/') holding the tfjs-backend-wasm `.wasm` files, for bundled programs. */
  wasmPaths?: string;
  /**
   * webgpu only: the tfjs backend of the GPU host thread. 'webgpu' (default) runs on the GPU;
   * 'cpu' runs the same host-thread plumbing on tfjs cpu (for tests on machines without a GPU).
   * Default from `BATON_GPU_HOST_BACKEND`.
   */
  gpuHost?: GpuHostBackend;
}

/** The host thread's compiled script; NOTE: when this file runs from src/ (tests), the one in dist/. */
function gpuHostScript(): URL {
  const here = new URL('./gpu/gpu-host-worker.js', import.meta.url);
  return existsSync(fileURLToPath(here)) ? here : new URL('../dist/gpu/gpu-host-worker.js', import.meta.url);
}
/** This thread's GPU host (started by initBackend('webgpu')), or null. */
let gpuHost: GpuClient | null = null;

/** @internal the GPU host thread of this thread's webgpu backend, or null on other backends. */
export function activeGpuHost(): GpuClient | null {
  return gpuHost;
}

/** Stops this thread's GPU host thread, if any (models created on it stop working). */
export async function closeBackend(): Promise<void> {
  const host = gpuHost;
  gpuHost = null;
  await host?.close();
}

/** Reads `BATON_BACKEND`, defaulting to 'wasm'; throws ModelArgumentError on an unknown name. */
export function defaultBackendName(): BackendName {
  return parseBackendName(process.env['BATON_BACKEND'] || 'wasm', 'BATON_BACKEND');
}

/** Validates a backend name; `argument` names the source in the error. */
export function parseBackendName(value: string, argument = 'backend'): BackendName {
  if ((BACKEND_NAMES as readonly string[]).includes(value)) return value as BackendName;
  throw new ModelArgumentError(argument, `unknown backend "${value}" (expected one of ${BACKEND_NAMES.join(', ')})`);
}

const HOW: Record<BackendName, string> = {
  wasm: 'npm install @tensorflow/tfjs-backend-wasm@4.22.0',
  cpu: 'npm install @tensorflow/tfjs-backend-cpu@4.22.0',
  webgpu: 'npm install @tensorflow/tfjs-backend-webgpu@4.22.0 webgpu, on a machine with a Vulkan/Metal/D3D12 GPU driver',
  tensorflow: 'npm install @tensorflow/tfjs-node@4.22.0 (or @tensorflow/tfjs-node-gpu@4.22.0 with CUDA 11.2 / cuDNN 8.1)',
};

function unavailable(name: BackendName, what: string, cause: unknown): BackendUnavailableError {
  const reason = cause instanceof Error ? cause.message.split('\n')[0] : String(cause);
  return new BackendUnavailableError(name, `backend "${name}" cannot load: ${what} (${reason}). Install it with: ${HOW[name]}`);
}

async function importOptional(specifier: string): Promise<unknown> {
  // NOTE: a variable specifier keeps TypeScript and bundlers from resolving optional packages.
  return import(specifier);
}

async function register(name: BackendName, opts: InitBackendOptions): Promise<string> {
  switch (name) {
    case 'cpu':
      await importOptional('@tensorflow/tfjs-backend-cpu').catch((e) => { throw unavailable(name, 'package @tensorflow/tfjs-backend-cpu is missing', e); });
      return 'cpu';
    case 'wasm': {
      const wasm = (await importOptional('@tensorflow/tfjs-backend-wasm').catch((e) => {
        throw unavailable(name, 'package @tensorflow/tfjs-backend-wasm is missing', e);
      })) as { setWasmPaths(p: string): void };
      if (opts.wasmPaths !== undefined) wasm.setWasmPaths(opts.wasmPaths);
      return 'wasm';
    }
    case 'webgpu':
      return 'cpu';
    case 'tensorflow':
      await importOptional('@tensorflow/tfjs-node-gpu').catch(() => importOptional('@tensorflow/tfjs-node')).catch((e) => {
        throw unavailable(name, 'neither @tensorflow/tfjs-node-gpu nor @tensorflow/tfjs-node is installed', e);
      });
      return 'tensorflow';
  }
}

/**
 * Starts this thread's GPU host thread, which sets up navigator.gpu (the `webgpu` package) and
 * then imports tfjs-backend-webgpu. NOTE: the model API is synchronous and Dawn in Node reads
 * back only asynchronously, so the device lives in a host thread that this thread waits on
 * (gpu/gpu-client.ts); this thread itself runs tfjs cpu for anything outside the forward pass.
 */
async function startGpuHost(opts: InitBackendOptions): Promise<string> {
  const backend: GpuHostBackend = opts.gpuHost ?? (process.env['BATON_GPU_HOST_BACKEND'] === 'cpu' ? 'cpu' : 'webgpu');
  await closeBackend();
  try {
    const { client, detail } = await GpuClient.start(gpuHostScript(), backend);
    gpuHost = client;
    return detail;
  } catch (e) {
    // NOTE: the host asks for an adapter only once both packages loaded (gpu/host-device.ts), so
    // "no GPU adapter" means they are installed and the machine offers no GPU: no install hint.
    if (e instanceof Error && /no GPU adapter/.test(e.message)) throw new BackendUnavailableError('webgpu', NO_GPU_ADAPTER);
    throw unavailable('webgpu', 'the GPU host thread could not start WebGPU', e);
  }
}

const NO_GPU_ADAPTER =
  'backend "webgpu": no GPU adapter was found (WebGPU needs a GPU and its Vulkan, Metal or D3D12 driver). ' +
  'Use another backend (wasm, the default, or cpu), or install the GPU driver; on Linux without a GPU, ' +
  "Mesa's Vulkan software driver lavapipe (mesa-vulkan-drivers) provides a slow adapter for testing";

/** Loads (if needed) and activates a backend for this thread; default from BATON_BACKEND, else 'wasm'. */
export async function initBackend(name: BackendName = defaultBackendName(), opts: InitBackendOptions = {}): Promise<BackendInfo> {
  parseBackendName(name);
  if (name !== 'webgpu') await closeBackend();
  const gpuDetail = name === 'webgpu' ? await startGpuHost(opts) : null;
  const tfName = name === 'webgpu' ? (await register('cpu', opts)) : await register(name, opts);
  let ok: boolean;
  try {
    ok = await tf.setBackend(tfName);
    await tf.ready();
  } catch (e) {
    throw unavailable(name, `tfjs could not initialise the "${tfName}" backend`, e);
  }
  if (!ok || tf.getBackend() !== tfName) {
    throw unavailable(name, `tfjs could not initialise the "${tfName}" backend`, new Error('setBackend returned false'));
  }
  if (gpuDetail !== null) return { name, tfBackend: 'webgpu', detail: `@tensorflow/tfjs-core ${tf.version_core}, GPU host thread: ${gpuDetail}` };
  return { name, tfBackend: tfName, detail: `@tensorflow/tfjs-core ${tf.version_core}, backend ${tfName}` };
}

/**
 * Tensors and bytes the active backend holds in this thread (leak checks, stats), and the size of
 * the tfjs-wasm backend's WebAssembly heap (0 on other backends). NOTE: a WebAssembly memory never
 * shrinks: `wasmHeapBytes` is the high-water mark of what the backend ever needed at once.
 */
export function backendMemory(): { numTensors: number; numBytes: number; wasmHeapBytes: number } {
  const m = tf.memory();
  return { numTensors: m.numTensors, numBytes: m.numBytes, wasmHeapBytes: wasmHeapBytes(tf.backend()) };
}

/** The tfjs-wasm backend's heap size (its `wasm.HEAPU8`), or 0 for a backend without one. */
function wasmHeapBytes(backend: object): number {
  const wasm: unknown = Reflect.get(backend, 'wasm');
  if (typeof wasm !== 'object' || wasm === null) return 0;
  const heap: unknown = Reflect.get(wasm, 'HEAPU8');
  return heap instanceof Uint8Array ? heap.buffer.byteLength : 0;
}
