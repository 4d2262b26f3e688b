/**
 * GpuClient: the model thread's synchronous handle on its own GPU host thread. WebGPU in Node
 * (Dawn) can only read results back asynchronously (mapAsync needs the event loop; tfjs-webgpu's
 * dataSync needs OffscreenCanvas), while the model API (prefill/decode) is synchronous. So each
 * model thread owns one host thread holding the GPU device, weights and KV, and waits for each
 * reply with Atomics.wait on a shared signal word, then takes the reply with receiveMessageOnPort.
 * Invariants: one request in flight at a time; replies arrive in request order; the port has no
 * listener (messages are only ever taken synchronously).
 */
import { availableParallelism } from 'node:os';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { ModelError } from '../errors.js';
import type { GpuHostBackend, GpuHostData, GpuReply, GpuRequest, KvPart, WireKv } from './gpu-protocol.js';

/** The GPU host thread failed a request, died or did not answer. */
export class GpuHostError extends ModelError {
  constructor(code: string, message: string) {
    super(code, message);
  }
}

/** A result with its K/V resolved to an array (a view of the reply area stays valid until the next call). */
export type HostResult = Omit<Extract<GpuReply, { type: 'result' }>, 'kv' | 'area'> & { kv: Float32Array | null };
/** A streamed layer's rows (KvPart) resolved to an array (valid until the next call). */
export type HostLayer = { type: 'layer'; layer: number; part: KvPart; kv: Float32Array };

/** How long a call waits for the host's reply (ms): 120 s, or BATON_GPU_WAIT_MS (slow software GPUs). */
const WAIT_MS = ((): number => {
  const env = Number.parseFloat(process.env['BATON_GPU_WAIT_MS'] ?? '');
  return Number.isFinite(env) && env > 0 ? env : 120_000;
})();

/**
 * How long a wait for a reply spins before it sleeps (ms): with a GPU host on a machine with cores
 * to spare, 2 ms (BATON_GPU_SPIN_MS overrides; 0 never spins).
 * NOTE: measured on the H200 machine, a model thread asleep in Atomics.wait took ~0.1 ms to wake
 * after the host's notify, once per reply on the critical path (the last K/V layer of a prefill,
 * a decode step's result). The thread is blocked in a synchronous call anyway; on small machines
 * (and on the cpu plumbing backend, or lavapipe, whose work needs those cores) it does not spin.
 */
function spinMsFor(backend: GpuHostBackend): number {
  const env = Number.parseFloat(process.env['BATON_GPU_SPIN_MS'] ?? '');
  if (Number.isFinite(env) && env >= 0) return env;
  return backend === 'webgpu' && availableParallelism() >= 8 ? 2 : 0;
}

/** Atomics.waitAsync (Node 20; not in this TypeScript lib target). */
function waitAsync(signal: Int32Array, value: number): Promise<unknown> {
  const a = Atomics as unknown as { waitAsync(i: Int32Array, index: number, value: number): { value: Promise<unknown> | string } };
  const r = a.waitAsync(signal, 0, value).value;
  return typeof r === 'string' ? Promise.resolve(r) : r;
}

/** Synchronous calls to one GPU host thread. */
export class GpuClient {
  private readonly signal: Int32Array;
  private seen = 0;
  private closed = false;
  /** The host thread's reply area (sent once per allocation); windows in replies index it. */
  private area: Float32Array<ArrayBufferLike> = new Float32Array(0);

  private constructor(private readonly worker: Worker, private readonly port: MessagePort, shared: SharedArrayBuffer, private readonly spinMs: number) {
    this.signal = new Int32Array(shared);
  }

  /** Starts a host thread from `script` and waits (asynchronously) until its backend is up. */
  static async start(script: URL, backend: GpuHostBackend): Promise<{ client: GpuClient; detail: string }> {
    const shared = new SharedArrayBuffer(4);
    const { port1, port2 } = new MessageChannel();
    const workerData: GpuHostData & { port: MessagePort } = { backend, signal: shared, port: port2 };
    const worker = new Worker(script, { workerData, transferList: [port2] });
    const client = new GpuClient(worker, port1, shared, spinMsFor(backend));
    const exited = new Promise<never>((_, reject) => {
      worker.once('error', (e) => reject(new GpuHostError('GPU_HOST_FAILED', `GPU host thread failed to start: ${e.message}`)));
      worker.once('exit', (code) => reject(new GpuHostError('GPU_HOST_EXITED', `GPU host thread exited with code ${code} while starting`)));
    });
    exited.catch(() => undefined);
    port1.postMessage({ type: 'hello' } satisfies GpuRequest);
    try {
      await Promise.race([waitAsync(client.signal, 0), exited]);
      const detail = client.take(null).detail;
      // NOTE: ref'd while starting (Atomics.waitAsync alone does not keep the process alive);
      // afterwards calls are synchronous and the host must not keep the process alive.
      worker.unref();
      return { client, detail };
    } catch (e) {
      client.closed = true;
      client.port.close();
      await worker.terminate();
      throw e;
    }
  }

  /** Sends a request that has no reply (ordered before later calls). */
  post(req: GpuRequest, transfer: ArrayBuffer[] = []): void {
    this.assertOpen();
    this.port.postMessage(req, transfer);
  }

  /** Sends a request and blocks until its result; `onLayer` receives streamed layers first. */
  call(req: GpuRequest, onLayer: ((m: HostLayer) => void) | null = null, transfer: ArrayBuffer[] = []): HostResult {
    this.assertOpen();
    this.port.postMessage(req, transfer);
    return this.take(onLayer);
  }

  /** Whether close() was called (calls then throw GPU_HOST_CLOSED). */
  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Stops the host thread: it drops its models, waits for its queue and destroys its device
   * (`shutdown`), then the thread is terminated.
   * NOTE: terminating a thread inside a native WebGPU call, or with a live Dawn device, can crash
   * the process (host-device.ts); a dead or failed host thread is terminated all the same.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    try {
      this.call({ type: 'shutdown' });
    } catch {
      // terminated below all the same
    }
    this.closed = true;
    this.port.close();
    await this.worker.terminate();
  }

  /**
   * Takes the current request's replies up to its result (or error).
   * NOTE: when `onLayer` throws (e.g. a KV handoff cancelled while an engine closes), the rest of
   * the request's replies are still taken before the error is rethrown: returning at once left
   * them in the port, where the next call took the stale result as its own (a `dropModel` then
   * "finished" while the host was still computing, and the thread was terminated mid-call).
   */
  private take(onLayer: ((m: HostLayer) => void) | null): HostResult {
    let failure: { error: unknown } | null = null;
    for (;;) {
      if (!this.spinUntilSignal() && Atomics.wait(this.signal, 0, this.seen, WAIT_MS) === 'timed-out') {
        throw new GpuHostError('GPU_HOST_TIMEOUT', `GPU host thread did not answer within ${WAIT_MS} ms`);
      }
      this.seen = Atomics.load(this.signal, 0);
      for (let m = receiveMessageOnPort(this.port); m !== undefined; m = receiveMessageOnPort(this.port)) {
        const reply = m.message as GpuReply;
        if (reply.type !== 'error' && reply.area !== null) this.area = new Float32Array(reply.area);
        if (reply.type !== 'layer') {
          if (failure !== null) throw failure.error;
          if (reply.type === 'error') throw new GpuHostError(reply.code, reply.message);
          return { ...reply, kv: reply.kv === null ? null : this.resolve(reply.kv) };
        }
        if (failure !== null) continue;
        try {
          onLayer?.({ type: 'layer', layer: reply.layer, part: reply.part, kv: this.resolve(reply.kv) });
        } catch (error) {
          failure = { error };
        }
      }
    }
  }

  /** Spins up to spinMs for the signal word to move; true if it did. */
  private spinUntilSignal(): boolean {
    if (this.spinMs <= 0) return false;
    const end = performance.now() + this.spinMs;
    while (Atomics.load(this.signal, 0) === this.seen) if (performance.now() > end) return false;
    return true;
  }

  /** K/V of a reply as an array (a window becomes a view of the reply area). */
  private resolve(kv: WireKv): Float32Array {
    if (kv instanceof Float32Array) return kv;
    if (kv.offset + kv.length > this.area.length) {
      throw new GpuHostError('GPU_HOST_PROTOCOL', `reply window [${kv.offset}, ${kv.offset + kv.length}) is outside the reply area (${this.area.length} floats)`);
    }
    return this.area.subarray(kv.offset, kv.offset + kv.length);
  }

  private assertOpen(): void {
    if (this.closed) throw new GpuHostError('GPU_HOST_CLOSED', 'the GPU host thread was closed (closeBackend)');
  }
}
