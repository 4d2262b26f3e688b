/**
 * A GEMM worker thread of GemmPool (gemm-pool.ts, which owns the protocol): compiles the GEMM
 * kernels against the shared memory it is given and runs the jobs posted in its control words.
 */
import { workerData } from 'node:worker_threads';
import { createGemmKernels } from './gemm-kernel.js';
import { CTL, JOB, type GemmWorkerData } from './gemm-pool.js';

const { memory, ctl: buffer, fma, strides } = workerData as GemmWorkerData;
const ctl = new Int32Array(buffer);
const kernels = createGemmKernels(memory, fma, strides);
let seen = 0;
for (;;) {
  Atomics.wait(ctl, CTL.SEQ, seen);
  seen = Atomics.load(ctl, CTL.SEQ);
  const kind = ctl[CTL.KIND];
  if (kind === JOB.STOP) break;
  const [a, lda, b, bias, out, ldc, m, k, n] = ctl.subarray(CTL.ARGS, CTL.ARGS + 9);
  try {
    const fn = kind === JOB.GEMM_ADD ? kernels.gemmAdd : kind === JOB.GEMM_GELU ? kernels.gemmGelu : kernels.gemm;
    if (m > 0) fn(a, lda, b, bias, out, ldc, m, k, n);
    Atomics.store(ctl, CTL.DONE, 1);
  } catch {
    Atomics.store(ctl, CTL.DONE, -1);
  }
  Atomics.notify(ctl, CTL.DONE);
}
