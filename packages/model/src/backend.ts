/**
 * Backend selection: loads and activates one TensorFlow.js backend for this thread (each worker
 * thread has its own tfjs engine, so one backend per worker). Optional backends are imported
 * dynamically so that a missing one fails with BackendUnavailableError saying how to install it.
 */
import * as tf from '@tensorflow/tfjs-core';
import { BackendUnavailableError, ModelArgumentError } from './errors.js';

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
      await loadWebgpu();
      return 'webgpu';
    case 'tensorflow':
      await importOptional('@tensorflow/tfjs-node-gpu').catch(() => importOptional('@tensorflow/tfjs-node')).catch((e) => {
        throw unavailable(name, 'neither @tensorflow/tfjs-node-gpu nor @tensorflow/tfjs-node is installed', e);
      });
      return 'tensorflow';
  }
}

async function loadWebgpu(): Promise<void> {
  const g = globalThis as { navigator?: { gpu?: unknown } };
  if (g.navigator?.gpu === undefined) {
    const mod = (await importOptional('webgpu').catch((e) => {
      throw unavailable('webgpu', 'package webgpu (Dawn for Node) is missing', e);
    })) as { create(flags: string[]): unknown; globals: object };
    let gpu: unknown;
    try { gpu = mod.create([]); } catch (e) { throw unavailable('webgpu', 'Dawn could not start', e); }
    Object.assign(globalThis, mod.globals);
    // NOTE: navigator must exist before tfjs-backend-webgpu loads: it registers only if navigator.gpu exists.
    Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  }
  const gpu = (globalThis as unknown as { navigator: { gpu: { requestAdapter(): Promise<unknown> } } }).navigator.gpu;
  const adapter = await gpu.requestAdapter().catch(() => null);
  if (adapter === null || adapter === undefined) {
    throw unavailable('webgpu', 'no GPU adapter was found', new Error('navigator.gpu.requestAdapter() returned null'));
  }
  await importOptional('@tensorflow/tfjs-backend-webgpu').catch((e) => {
    throw unavailable('webgpu', 'package @tensorflow/tfjs-backend-webgpu is missing', e);
  });
}

/** Loads (if needed) and activates a backend for this thread; default from BATON_BACKEND, else 'wasm'. */
export async function initBackend(name: BackendName = defaultBackendName(), opts: InitBackendOptions = {}): Promise<BackendInfo> {
  parseBackendName(name);
  const tfName = await register(name, opts);
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
  return { name, tfBackend: tfName, detail: `@tensorflow/tfjs-core ${tf.version_core}, backend ${tfName}` };
}
