/**
 * Off-thread checksums (span-hash.ts) of layer spans in the pool's SharedArrayBuffer (see checksum-worker.ts), used
 * by both ends of the transfer stream so checksumming overlaps the socket I/O. One worker per
 * instance, started lazily and unref'd (it never keeps a process alive); answers arrive in
 * request order.
 */
import { Worker } from 'node:worker_threads';
import { TransferError } from './errors.js';
import type { ByteRuns } from './pool-layout.js';
import type { VerifyReply, VerifyRequest } from './protocol.js';
import type { WasmMemory } from './wasm-api.js';

interface Waiter {
  resolve(checksum: number): void;
  reject(error: Error): void;
}

/** Computes checksums of pool byte ranges on a worker thread. */
export class SpanChecksums {
  private readonly memory: WasmMemory;
  private worker: Worker | null = null;
  private nextId = 0;
  private readonly waiting = new Map<number, Waiter>();

  constructor(memory: WasmMemory) {
    this.memory = memory;
  }

  /** Checksum of the byte runs (offsets[i], lengths[i]) of the data buffer, concatenated in order. */
  checksum(runs: ByteRuns): Promise<number> {
    const worker = this.start();
    const id = this.nextId++;
    const request: VerifyRequest = { type: 'verify', id, offsets: runs.offsets, lengths: runs.lengths };
    return new Promise<number>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      worker.postMessage(request);
    });
  }

  /** Stops the worker (pending checksums never resolve; their sequences were failed already). */
  close(): void {
    this.waiting.clear();
    void this.worker?.terminate();
    this.worker = null;
  }

  private start(): Worker {
    if (this.worker !== null) return this.worker;
    const worker = new Worker(new URL('./checksum-worker.js', import.meta.url), { workerData: this.memory });
    worker.unref();
    worker.on('message', (reply: VerifyReply) => {
      const waiter = this.waiting.get(reply.id);
      this.waiting.delete(reply.id);
      waiter?.resolve(reply.checksum);
    });
    worker.on('error', (error) => {
      const failure = new TransferError('TRANSFER_VERIFIER', `checksum worker failed: ${error.message}`);
      for (const waiter of this.waiting.values()) waiter.reject(failure);
      this.waiting.clear();
      this.worker = null;
    });
    this.worker = worker;
    return worker;
  }
}
