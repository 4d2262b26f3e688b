/**
 * A GEMM worker thread of GemmPool (gemm-pool.ts, which owns the protocol): compiles the GEMM
 * kernels (and, when given a shape, an attention kernel with scratch of its own) against the
 * shared memory it is given and runs the jobs posted in its control words.
 */
import { workerData } from 'node:worker_threads';
import { ATTEND_CALL_WORDS } from '../kv-arena.js';
import { createAttentionKernel } from './attention-kernel.js';
import { createGemmKernels } from './gemm-kernel.js';
import { CTL, JOB, type GemmWorkerData } from './gemm-pool.js';

const { memory, ctl: buffer, fma, strides, attention, scratch } = workerData as GemmWorkerData;
const ctl = new Int32Array(buffer);
const kernels = createGemmKernels(memory, fma, strides, scratch);
const attend = attention === null ? null : createAttentionKernel(attention, memory, fma);

/** Runs `count` attention calls listed at byte address `calls` (KvArena.prepareHelper's descriptors). */
function attendAll(calls: number, count: number): void {
  if (attend === null) throw new Error('this worker has no attention kernel');
  const words = new Int32Array(memory.buffer); // NOTE: after the memory grew, a new view
  for (let i = 0; i < count; i++) {
    const [q, y, pt, layerOff, rows, pos0] = words.subarray((calls >> 2) + i * ATTEND_CALL_WORDS, (calls >> 2) + (i + 1) * ATTEND_CALL_WORDS);
    attend(q, y, pt, layerOff, rows, pos0);
  }
}
let seen = 0;
for (;;) {
  Atomics.wait(ctl, CTL.SEQ, seen);
  seen = Atomics.load(ctl, CTL.SEQ);
  const kind = ctl[CTL.KIND];
  if (kind === JOB.STOP) break;
  const [a, lda, b, bias, out, ldc, m, k, n] = ctl.subarray(CTL.ARGS, CTL.ARGS + 9);
  try {
    if (kind === JOB.ATTEND) attendAll(a, lda);
    else {
      const fn = kind === JOB.GEMM_ADD ? kernels.gemmAdd : kind === JOB.GEMM_GELU ? kernels.gemmGelu : kernels.gemm;
      if (m > 0) fn(a, lda, b, bias, out, ldc, m, k, n);
    }
    Atomics.store(ctl, CTL.DONE, 1);
  } catch {
    Atomics.store(ctl, CTL.DONE, -1);
  }
  Atomics.notify(ctl, CTL.DONE);
}
