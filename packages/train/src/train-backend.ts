/**
 * The training backend. cpu and wasm come from @baton/model's initBackend; webgpu runs
 * tfjs-backend-webgpu in this thread (training reads back asynchronously, so it needs none of the
 * inference path's GPU host thread), on Dawn through the `webgpu` package. With
 * `BATON_GPU_HOST_BACKEND=cpu`, webgpu falls back to tfjs cpu (a plumbing check off the GPU).
 * NOTE: navigator.gpu must exist BEFORE tfjs-backend-webgpu is imported: it registers itself only then.
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, type BackendName } from '@baton/model';
import { TrainOptionError } from './errors.js';
import { registerGradients } from './gradients.js';

/** Backends training runs on. */
export const TRAIN_BACKENDS = ['webgpu', 'wasm', 'cpu'] as const;
/** One of {@link TRAIN_BACKENDS}. */
export type TrainBackend = (typeof TRAIN_BACKENDS)[number];

async function startWebGpu(): Promise<string> {
  type Adapter = { info?: { vendor?: string; device?: string; description?: string } };
  const { create, globals } = (await import('webgpu')) as unknown as { create(flags: string[]): { requestAdapter(): Promise<Adapter | null> }; globals: object };
  const gpu = create([]);
  Object.assign(globalThis, globals);
  Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  const adapter = await gpu.requestAdapter();
  if (adapter === null) throw new TrainOptionError('--backend', 'webgpu: navigator.gpu.requestAdapter() returned null (no GPU adapter)');
  await import('@tensorflow/tfjs-backend-webgpu');
  if (!(await tf.setBackend('webgpu'))) throw new TrainOptionError('--backend', 'tfjs could not initialise the webgpu backend');
  await tf.ready();
  const i = adapter.info ?? {};
  return `webgpu ${i.vendor ?? '?'} ${i.device ?? ''} ${i.description ?? ''}`.replace(/\s+/g, ' ').trim();
}

/** The backend this thread already trains on, so that a second run in it starts nothing again. */
let active: { name: TrainBackend; tfBackend: string; detail: string } | null = null;

async function start(name: TrainBackend): Promise<string> {
  if (name === 'webgpu') {
    if (process.env['BATON_GPU_HOST_BACKEND'] === 'cpu') {
      await initBackend('cpu');
      return 'tfjs cpu (BATON_GPU_HOST_BACKEND=cpu stands in for webgpu)';
    }
    return startWebGpu();
  }
  const info = await initBackend(name as BackendName);
  return info.detail;
}

/** Activates `name` for training in this thread (once; later calls reuse it); returns a one-line description. */
export async function initTrainBackend(name: TrainBackend): Promise<string> {
  await registerGradients();
  if (active !== null && active.name === name && tf.getBackend() === active.tfBackend) return active.detail;
  const detail = await start(name);
  active = { name, tfBackend: tf.getBackend(), detail };
  return detail;
}
