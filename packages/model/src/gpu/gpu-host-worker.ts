/// <reference types="@webgpu/types" />
/**
 * The GPU host thread: owns this model thread's GPU device (navigator.gpu from the `webgpu`
 * package, set up BEFORE tfjs-backend-webgpu is imported, since it registers only if
 * navigator.gpu exists), the models' weights and GPU-resident KV, and answers GpuRequests in
 * order. After every reply it increments the shared signal word and notifies the waiting thread.
 * Invariant: requests are processed strictly one after another (a promise chain).
 */
import { workerData, type MessagePort } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { ModelError } from '../errors.js';
import { referenceOps, type ForwardOps } from './forward-ops.js';
import { GpuForward } from './gpu-forward.js';
import type { GpuHostData, GpuReply, GpuRequest, WireKv } from './gpu-protocol.js';
import { isWindow, takeUnsentArea, toWire } from './reply-area.js';
import { checkFastPipeline } from './fast-checks.js';
import { checkFastKernels } from './fast-kernel-checks.js';
import { profileFastPipeline } from './fast-profile.js';
import { spinGpu } from './gpu-timer.js';
import { checkKernels } from './kernel-checks.js';
import { createWgslOps } from './wgsl-ops.js';

const data = workerData as GpuHostData & { port: MessagePort };
const signal = new Int32Array(data.signal);
const port = data.port;
const models = new Map<number, GpuForward>();
let adapterDetail = '';

/** A reply as the host builds it: K/V as arrays (views of the reply area become windows on the wire). */
type HostReply =
  | { type: 'layer'; layer: number; kv: Float32Array }
  | (Omit<Extract<GpuReply, { type: 'result' }>, 'kv' | 'area'> & { kv: Float32Array | null })
  | Extract<GpuReply, { type: 'error' }>;

function reply(h: HostReply): void {
  const wire = (a: Float32Array): WireKv => toWire(a);
  const m: GpuReply = h.type === 'layer' ? { ...h, kv: wire(h.kv), area: null }
    : h.type === 'result' ? { ...h, kv: h.kv === null ? null : wire(h.kv), area: null } : h;
  if (m.type !== 'error' && m.kv !== null && isWindow(m.kv)) m.area = takeUnsentArea();
  // NOTE: a prefill's K/V rows are megabytes: move them, never copy.
  const transfer: ArrayBuffer[] = [];
  const arrays = m.type === 'layer' ? [m.kv] : m.type === 'result' ? [m.kv, m.logits] : [];
  for (const a of arrays) if (a instanceof Float32Array && a.buffer instanceof ArrayBuffer && a.byteOffset === 0 && a.byteLength === a.buffer.byteLength) transfer.push(a.buffer);
  port.postMessage(m, transfer);
  Atomics.add(signal, 0, 1);
  Atomics.notify(signal, 0);
}

function result(partial: Partial<Extract<HostReply, { type: 'result' }>>): void {
  reply({ type: 'result', logits: null, ids: null, kv: null, detail: '', checks: [], profile: [], ...partial });
}

async function startBackend(): Promise<void> {
  if (data.backend === 'cpu') {
    await import('@tensorflow/tfjs-backend-cpu');
    await tf.setBackend('cpu');
    adapterDetail = 'GPU host thread on tfjs cpu (plumbing test mode)';
    return;
  }
  const { create, globals } = (await import('webgpu')) as unknown as { create(flags: string[]): { requestAdapter(): Promise<{ info?: { vendor?: string; architecture?: string; device?: string; description?: string } } | null> }; globals: object };
  // NOTE: Dawn rounds timestamp queries to ~65 us by default (a browser privacy measure); the GPU
  // profile times kernels of a few us, so ask for exact timestamps.
  const gpu = create(['disable-dawn-features=timestamp_quantization']);
  Object.assign(globalThis, globals);
  Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  const adapter = await gpu.requestAdapter();
  if (adapter === null) throw new ModelError('MODEL_BACKEND_UNAVAILABLE', 'webgpu: navigator.gpu.requestAdapter() returned null (no GPU adapter)');
  await import('@tensorflow/tfjs-backend-webgpu');
  if (!(await tf.setBackend('webgpu'))) throw new ModelError('MODEL_BACKEND_UNAVAILABLE', 'webgpu: tfjs could not initialise the webgpu backend');
  await tf.ready();
  // NOTE: an unhandled Dawn error leaves an exception pending in the binding; report it instead.
  const device = (tf.backend() as unknown as { device: { addEventListener(type: string, fn: (e: { error?: { message?: string } }) => void): void } }).device;
  device.addEventListener('uncapturederror', (e) => console.error(`webgpu error: ${e.error?.message ?? 'unknown'}`));
  const i = adapter.info ?? {};
  adapterDetail = `webgpu adapter ${i.vendor ?? '?'} ${i.architecture ?? ''} ${i.device ?? ''} ${i.description ?? ''}`.replace(/\s+/g, ' ').trim();
}

/** BATON_GPU_FAST=0 keeps the tfjs path (diagnosis; the hand-built pipeline is the default). */
const FAST = process.env['BATON_GPU_FAST'] !== '0';
const GENERIC = new Set((process.env['BATON_GPU_GENERIC_OPS'] ?? '').split(',').filter((s) => s !== ''));

function opsFor(nPositions: number): ForwardOps {
  return data.backend === 'webgpu' ? createWgslOps(nPositions, GENERIC) : referenceOps;
}

function model(id: number): GpuForward {
  const m = models.get(id);
  if (m === undefined) throw new ModelError('GPU_HOST_NO_MODEL', `GPU host thread has no model ${id}`);
  return m;
}

async function handle(req: GpuRequest): Promise<void> {
  switch (req.type) {
    case 'sync':
      return result({});
    case 'hello':
      await startBackend();
      return result({ detail: adapterDetail });
    case 'addModel':
      models.set(req.model, new GpuForward(req.config, req.weights, opsFor(req.config.nPositions), FAST));
      return result({});
    case 'dropModel':
      models.get(req.model)?.dispose();
      models.delete(req.model);
      return;
    case 'load':
      return model(req.model).load(req.slot, req.layer, req.start, req.rows);
    case 'free':
      return model(req.model).free(req.slot);
    case 'prefill': {
      const m = model(req.model);
      // NOTE: the hand-built pipeline always streams layers: the model thread stores layer l while
      // the GPU computes the next (the tfjs path reads layers back separately only when asked).
      const stream = req.streamLayers || m.pipeline === 'fast';
      const onLayer = stream ? (layer: number, kv: Float32Array) => reply({ type: 'layer', layer, kv }) : null;
      return result(await m.prefill({ ...req, onLayer }));
    }
    case 'decode':
      return result(await model(req.model).decode(req.items, req.output));
    case 'checkKernels': {
      const checks = await checkKernels(opsFor(1024));
      // The hand-built pipeline exists only on WebGPU (the cpu plumbing mode has just the tfjs path).
      if (data.backend === 'webgpu') checks.push(...(await checkFastKernels()), ...(await checkFastPipeline(opsFor(256), 8, 32)), ...(await checkFastPipeline(opsFor(256), 8, 64)));
      return result({ checks, detail: adapterDetail });
    }
    case 'spin':
      if (data.backend === 'webgpu') await spinGpu((tf.backend() as unknown as { device: GPUDevice }).device, req.ms);
      return result({});
    case 'profile':
      if (data.backend !== 'webgpu') throw new ModelError('GPU_HOST_NO_PROFILE', 'the GPU profile needs the webgpu host backend');
      return result({ profile: await profileFastPipeline(req.options), detail: adapterDetail });
  }
}

const NO_REPLY = new Set<GpuRequest['type']>(['load', 'free', 'dropModel']);
/** A failed no-reply request, reported as the answer to the next request that has a reply. */
let pendingError: { code: string; message: string } | null = null;

async function serve(req: GpuRequest): Promise<void> {
  if (!NO_REPLY.has(req.type) && pendingError !== null) {
    const e = pendingError;
    pendingError = null;
    return reply({ type: 'error', ...e });
  }
  try {
    await handle(req);
  } catch (e) {
    const code = e instanceof ModelError ? e.code : 'GPU_HOST_FAILED';
    const message = `GPU host thread, request "${req.type}": ${e instanceof Error ? e.message : String(e)}`;
    if (!NO_REPLY.has(req.type)) reply({ type: 'error', code, message });
    else pendingError ??= { code, message };
  }
}

let chain: Promise<void> = Promise.resolve();
port.on('message', (req: GpuRequest) => {
  chain = chain.then(() => serve(req));
});
