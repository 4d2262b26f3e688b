/// <reference types="@webgpu/types" />
/**
 * The GPU host thread: owns this model thread's GPU device (host-device.ts: started, parked when
 * no model is left, re-created on demand), the models' weights and GPU-resident KV, and answers
 * GpuRequests in order. After every reply it increments the shared signal word and notifies the
 * waiting thread.
 * Invariants: requests are processed strictly one after another (a promise chain); once a
 * `dropModel` or `shutdown` is answered, no GPU work of this thread is in flight.
 */
import { openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { threadId, workerData, type MessagePort } from 'node:worker_threads';
import { ModelError } from '../errors.js';
import { referenceOps, type ForwardOps } from './forward-ops.js';
import { GpuForward } from './gpu-forward.js';
import type { GpuHostData, GpuReply, GpuRequest, GpuStepStats, KvPart, WireKv } from './gpu-protocol.js';
import { isWindow, takeUnsentArea, toWire } from './reply-area.js';
import { checkFastPipeline } from './fast-checks.js';
import { checkFastKernels } from './fast-kernel-checks.js';
import { profileFastPipeline } from './fast-profile.js';
import { spinGpu } from './gpu-timer.js';
import { drain, park, ready, startDevice } from './host-device.js';
import { checkKernels } from './kernel-checks.js';
import { createWgslOps } from './wgsl-ops.js';

const data = workerData as GpuHostData & { port: MessagePort };
const signal = new Int32Array(data.signal);
const port = data.port;
const models = new Map<number, GpuForward>();
let adapterDetail = '';

/**
 * BATON_GPU_TRACE=<dir>: each request's start and end, and each reply, appended to
 * <dir>/gpu-host-<pid>-<thread>.log, written synchronously (crash diagnosis: the last lines survive
 * a native crash; timing: epoch-ms times line up with other threads').
 */
const TRACE_DIR = process.env['BATON_GPU_TRACE'] ?? '';
const traceFd = TRACE_DIR === '' ? null : openSync(join(TRACE_DIR, `gpu-host-${process.pid}-${threadId}.log`), 'a');
/** Lines start with the time in ms since the epoch (comparable across threads). */
function trace(what: string): void {
  if (traceFd !== null) writeSync(traceFd, `${(performance.timeOrigin + performance.now()).toFixed(3)} ${what}\n`);
}

/** A reply as the host builds it: K/V as arrays (views of the reply area become windows on the wire). */
type HostReply =
  | { type: 'layer'; layer: number; part: KvPart; kv: Float32Array }
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
  if (traceFd !== null) trace(`reply ${m.type}${m.type === 'layer' ? ` ${m.layer} ${m.part}` : ''}`);
  Atomics.add(signal, 0, 1);
  Atomics.notify(signal, 0);
}

function result(partial: Partial<Extract<HostReply, { type: 'result' }>>): void {
  reply({ type: 'result', logits: null, ids: null, kv: null, detail: '', checks: [], profile: [], stepStats: null, ...partial });
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
    case 'hello':
      adapterDetail = await startDevice(data.backend);
      return result({ detail: adapterDetail });
    case 'addModel':
      await ready();
      models.set(req.model, new GpuForward(req.config, req.weights, opsFor(req.config.nPositions), FAST));
      return result({});
    case 'dropModel':
      models.get(req.model)?.dispose();
      models.delete(req.model);
      await (models.size === 0 ? park() : drain());
      return result({});
    case 'shutdown':
      for (const m of models.values()) m.dispose();
      models.clear();
      await park();
      return result({});
    case 'load':
      return model(req.model).load(req.slot, req.layer, req.start, req.rows);
    case 'free':
      return model(req.model).free(req.slot);
    case 'prefill': {
      const m = model(req.model);
      // NOTE: the hand-built pipeline always streams layers: the model thread stores layer l while
      // the GPU computes the next (the tfjs path reads layers back separately only when asked).
      const stream = req.streamLayers || m.pipeline === 'fast';
      const onLayer = stream ? (layer: number, part: KvPart, kv: Float32Array) => reply({ type: 'layer', layer, part, kv }) : null;
      return result(await m.prefill({ ...req, onLayer }));
    }
    case 'decode':
      return result(await model(req.model).decode(req.items, req.output));
    case 'checkKernels': {
      await ready();
      const checks = await checkKernels(opsFor(1024));
      // The hand-built pipeline exists only on WebGPU (the cpu plumbing mode has just the tfjs path).
      if (data.backend === 'webgpu') checks.push(...(await checkFastKernels()), ...(await checkFastPipeline(opsFor(256), 8, 32)), ...(await checkFastPipeline(opsFor(256), 8, 64)));
      return result({ checks, detail: adapterDetail });
    }
    case 'spin': {
      const device = await ready();
      if (device !== null) await spinGpu(device, req.ms);
      return result({});
    }
    case 'stepStats': {
      const total: GpuStepStats = { calls: 0, dispatches: 0, submits: 0, encodeMs: 0, runMs: 0 };
      for (const m of models.values()) {
        const st = m.takeStepStats();
        for (const k of Object.keys(total) as Array<keyof GpuStepStats>) total[k] += st[k];
      }
      return result({ stepStats: total });
    }
    case 'profile':
      if (data.backend !== 'webgpu') throw new ModelError('GPU_HOST_NO_PROFILE', 'the GPU profile needs the webgpu host backend');
      await ready();
      return result({ profile: await profileFastPipeline(req.options), detail: adapterDetail });
  }
}

const NO_REPLY = new Set<GpuRequest['type']>(['load', 'free']);
/** Requests that release GPU memory: always carried out (a pending error waits for the next request). */
const RELEASE = new Set<GpuRequest['type']>(['dropModel', 'shutdown']);
/** A failed no-reply request, reported as the answer to the next request that has a reply. */
let pendingError: { code: string; message: string } | null = null;

async function serve(req: GpuRequest): Promise<void> {
  trace(`${req.type} start`);
  try {
    await serveOne(req);
  } finally {
    trace(`${req.type} done`);
  }
}

async function serveOne(req: GpuRequest): Promise<void> {
  if (!NO_REPLY.has(req.type) && !RELEASE.has(req.type) && pendingError !== null) {
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
