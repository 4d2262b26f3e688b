/**
 * GemmPool: the GEMM kernels run on this thread plus `threads - 1` worker threads over one shared
 * WebAssembly memory. A large GEMM (at least SPLIT_ROWS rows: prefill) is split by rows: each
 * worker takes a block of rows, this thread the last block, and the call returns when all are
 * done. A smaller one (decode) is split by columns: each worker takes a run of whole B panels,
 * this thread the rest (with the narrow last panel); one too narrow for SPLIT_PANELS panels per
 * thread runs here alone. Rows and columns are independent and computed the same way in any tile
 * (gemm-kernel.ts), so results are bitwise equal to a single-threaded run. Workers given an
 * attention kernel shape (their own scratch in the KV arena) also run lists of attention calls
 * (attend(): a decode batch's sequences shared out by WasmForward), bitwise as on this thread.
 * NOTE: a decode GEMM of 8 rows is ~8 ms of 128-bit arithmetic per step plus ~5 ms of the weights'
 * stream that one thread cannot overlap (WebAssembly has no prefetch, and loads touching ahead
 * stall retirement: measured slower); two threads split both. Workers sleep in Atomics.wait
 * between jobs: spinning for 0.3 ms first cost 25-30% more CPU per step for no wall-time gain.
 * Protocol per worker (an Int32Array over its own SharedArrayBuffer): this thread writes the
 * arguments, clears DONE and bumps SEQ (Atomics.notify); the worker, waiting on SEQ, runs the
 * kernel and sets DONE to 1 (or -1 if the kernel threw), then notifies. NOTE: the wait here is
 * synchronous (the model API is), so a worker failure must come back through DONE: an 'error'
 * event would never be delivered while this thread waits; a worker that never answers times out.
 * Invariant: at most one call in flight; workers are unref'd and terminated by close().
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { ModelError } from '../errors.js';
import { chunkRows, createGemmKernels, MR, PANEL, type GemmFn, type GemmKernels } from './gemm-kernel.js';
import type { AttentionShape } from './attention-kernel.js';
import type { WasmMemory } from './wasm-runtime.js';

/** Control words of one worker. */
export const CTL = { SEQ: 0, DONE: 1, KIND: 2, ARGS: 3, WORDS: 12 } as const;
/** Job kinds (ATTEND: a list of attention calls, args [list address, count]; see KvArena.prepareHelper). */
export const JOB = { GEMM: 0, GEMM_ADD: 1, GEMM_GELU: 2, STOP: 3, ATTEND: 4 } as const;
/** GEMMs with fewer rows are split by columns (decode), others by rows (prefill). */
const SPLIT_ROWS = 64;
/** A column split gives each thread at least this many full panels, or the GEMM runs on the calling thread alone. */
const SPLIT_PANELS = 4;
/**
 * Nor is a GEMM of fewer multiply-adds split. NOTE: waking a worker costs tens of microseconds,
 * about what a one-row GEMM of a 512-wide model takes (15-100 us): batch-1 steps with their GEMMs
 * split were 6-12% slower than on one thread; 8 rows of a 512 x 512 (2 M) still split.
 */
const SPLIT_MACS = 1 << 21;
/** How long a worker may take before the call fails. */
const TIMEOUT_MS = 60_000;

/** The worker's compiled script; NOTE: when this file runs from src/ (tests), the one in dist/. */
function workerScript(): URL {
  const here = new URL('./gemm-worker.js', import.meta.url);
  return existsSync(fileURLToPath(here)) ? here : new URL('../../dist/wasm/gemm-worker.js', import.meta.url);
}

/** Data a worker starts with. */
export interface GemmWorkerData {
  memory: WasmMemory;
  ctl: SharedArrayBuffer;
  fma: boolean;
  /** A row strides with kernels of their own (createGemmKernels). */
  strides: readonly number[];
  /** This worker's attention kernel shape (its own scratch), or null: no ATTEND jobs. */
  attention: AttentionShape | null;
  /** This worker's GEMM partial-sum scratch (createGemmKernels), or null. */
  scratch: { at: number; cols: number } | null;
}

/** GEMM kernels, optionally spread over worker threads. */
export class GemmPool {
  readonly gemm: GemmFn;
  readonly gemmAdd: GemmFn;
  readonly gemmGelu: GemmFn;
  private readonly local: GemmKernels;
  private readonly workers: Array<{ worker: Worker; ctl: Int32Array }>;

  /**
   * `strides`: the A row strides the callers use (each gets kernels with it fixed); `attention`:
   * the attention kernel shape of each worker (worker j runs thread j + 1's), or none: no attend();
   * `scratch`: each thread's GEMM partial-sum scratch (thread 0 is this one), or none.
   */
  constructor(memory: WasmMemory, fma: boolean, threads: number, strides: readonly number[] = [], attention: ((thread: number) => AttentionShape) | null = null, scratch: ((thread: number) => { at: number; cols: number }) | null = null) {
    this.local = createGemmKernels(memory, fma, strides, scratch === null ? null : scratch(0));
    this.workers = Array.from({ length: Math.max(0, threads - 1) }, (_, j) => {
      const ctl = new SharedArrayBuffer(CTL.WORDS * 4);
      const data: GemmWorkerData = { memory, ctl, fma, strides, attention: attention === null ? null : attention(j + 1), scratch: scratch === null ? null : scratch(j + 1) };
      const worker = new Worker(workerScript(), { workerData: data });
      worker.unref();
      return { worker, ctl: new Int32Array(ctl) };
    });
    this.gemm = (...args) => this.run(JOB.GEMM, this.local.gemm, args);
    this.gemmAdd = (...args) => this.run(JOB.GEMM_ADD, this.local.gemmAdd, args);
    this.gemmGelu = (...args) => this.run(JOB.GEMM_GELU, this.local.gemmGelu, args);
  }

  /** Whether the multiply-adds are relaxed (fused) ones. */
  get fma(): boolean {
    return this.local.fma;
  }

  /** Threads a large GEMM runs on (this one included). */
  get threads(): number {
    return this.workers.length + 1;
  }

  /** Stops the workers. */
  close(): void {
    for (const { worker, ctl } of this.workers) {
      Atomics.store(ctl, CTL.KIND, JOB.STOP);
      Atomics.add(ctl, CTL.SEQ, 1);
      Atomics.notify(ctl, CTL.SEQ);
      void worker.terminate();
    }
    this.workers.length = 0;
  }

  private run(kind: number, fn: GemmFn, args: Parameters<GemmFn>): void {
    const [a, lda, b, bias, out, ldc, m, k, n] = args;
    if (this.workers.length === 0) return fn(a, lda, b, bias, out, ldc, m, k, n);
    const parts = this.workers.length + 1;
    if (m < SPLIT_ROWS) {
      // Few rows (decode): split by columns, whole panels per worker, this thread the rest (and the narrow last panel).
      const per = Math.floor(Math.floor(n / PANEL) / parts);
      if (per < SPLIT_PANELS || m * k * n < SPLIT_MACS) return fn(a, lda, b, bias, out, ldc, m, k, n);
      // NOTE: column c0 of chunk 0 lies c0 * chunkRows(k) floats in (gemm-kernel.ts: chunked K)
      const kc = chunkRows(k);
      this.workers.forEach(({ ctl }, j) => {
        const c0 = j * per * PANEL;
        this.post(ctl, [kind, a, lda, b + c0 * kc * 4, bias + c0 * 4, out + c0 * 4, ldc, m, k, per * PANEL]);
      });
      const c0 = this.workers.length * per * PANEL;
      fn(a, lda, b + c0 * kc * 4, bias + c0 * 4, out + c0 * 4, ldc, m, k, n - c0);
      return this.join();
    }
    const rows = Math.ceil(m / parts / MR) * MR; // whole register tiles per thread
    this.workers.forEach(({ ctl }, j) => {
      const r0 = j * rows;
      this.post(ctl, [kind, a + r0 * lda * 4, lda, b, bias, out + r0 * ldc * 4, ldc, Math.max(0, Math.min(rows, m - r0)), k, n]);
    });
    const mine = this.workers.length * rows;
    if (mine < m) fn(a + mine * lda * 4, lda, b, bias, out + mine * ldc * 4, ldc, m - mine, k, n);
    this.join();
  }

  /**
   * Starts the attention call list at byte address `calls` (`count` calls) on thread `thread`'s
   * worker (1 .. threads - 1; the pool must have been given attention shapes); join() waits for it.
   */
  attend(thread: number, calls: number, count: number): void {
    this.post(this.workers[thread - 1].ctl, [JOB.ATTEND, calls, count]);
  }

  /** Hands one job (kind, then its arguments) to a worker. */
  private post(ctl: Int32Array, job: number[]): void {
    ctl.set(job, CTL.KIND);
    Atomics.store(ctl, CTL.DONE, 0);
    Atomics.add(ctl, CTL.SEQ, 1);
    Atomics.notify(ctl, CTL.SEQ);
  }

  /** Waits for every worker's job (a worker given none has nothing pending). */
  join(): void {
    for (const { ctl } of this.workers) {
      const start = Date.now();
      while (Atomics.load(ctl, CTL.DONE) === 0) {
        Atomics.wait(ctl, CTL.DONE, 0, 100);
        if (Date.now() - start > TIMEOUT_MS) throw new ModelError('CPU_WORKER_FAILED', `a GEMM worker thread did not answer within ${TIMEOUT_MS} ms`);
      }
      if (Atomics.load(ctl, CTL.DONE) < 0) throw new ModelError('CPU_WORKER_FAILED', 'a GEMM worker thread failed');
    }
  }
}
