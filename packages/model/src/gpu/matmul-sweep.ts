/// <reference types="@webgpu/types" />
/**
 * The profile's matmul sweep: times every candidate kernel and tiling of one matmul shape alone
 * on the GPU (own buffers, seeded data), so that chooseMatmul's rule can be checked against
 * measurements. Each candidate is warmed once (pipeline compile), then timed over `reps` runs.
 */
import { blockFits } from './blocked-matmul.js';
import type { Epilogue } from './fast-kernels.js';
import { DispatchRecorder, type Step } from './fast-plan.js';
import type { GpuProfileRow } from './gpu-protocol.js';
import type { GpuTimer } from './gpu-timer.js';
import { chooseMatmul, describeMatmul, recordMatmul, SMALL_M, smallRows, type MatmulChoice } from './matmul-kernels.js';

/** One matmul shape. */
export interface MatmulShape {
  M: number;
  K: number;
  N: number;
  ep: Epilogue;
  /** Profile label (qkv, proj, fc, fc2, head). */
  label: string;
}

/** Candidate kernels of a shape: the earlier kernel, then blocked tilings x K splits. */
export function matmulCandidates(M: number, K: number, N: number): MatmulChoice[] {
  const out: MatmulChoice[] = M <= SMALL_M ? [{ kind: 'small', rows: smallRows(M) }] : [{ kind: 'tiled', rows: 2 }, { kind: 'tiled', rows: 4 }];
  const tiles = M <= SMALL_M ? [[16, 4], [32, 4]] : [[32, 4], [64, 4], [64, 8], [128, 8]];
  for (const [BM, TM] of tiles) {
    for (const split of [1, 2, 4, 8, 16]) {
      const tile = { BM, TM, split };
      if (blockFits(K, N, tile) && K / split >= 64) out.push({ kind: 'blocked', tile });
    }
  }
  return out;
}

const same = (a: MatmulChoice, b: MatmulChoice): boolean => describeMatmul(a) === describeMatmul(b);

/** Times every candidate of each shape; rows sorted fastest first per shape, the default marked. */
export async function sweepMatmuls(dev: GPUDevice, timer: GpuTimer, shapes: readonly MatmulShape[], reps: number): Promise<GpuProfileRow[]> {
  const rows: GpuProfileRow[] = [];
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
  for (const s of shapes) {
    const rec = new DispatchRecorder(dev);
    const filled = (floats: number): GPUBuffer => {
      const b = dev.createBuffer({ size: Math.max(16, floats * 4), usage });
      dev.queue.writeBuffer(b, 0, Float32Array.from({ length: floats }, (_, i) => ((i * 7919) % 1000) / 1000 - 0.5));
      return b;
    };
    const meta = dev.createBuffer({ size: 16 + 16 * s.M, usage });
    dev.queue.writeBuffer(meta, 0, Int32Array.from([s.M, 0, 0, 0]));
    const a = filled(s.M * s.K);
    const w = filled(s.K * s.N);
    const b = filled(s.N);
    const o = filled(s.M * s.N);
    const r = s.ep === 'residual' ? filled(s.M * s.N) : null;
    let part: GPUBuffer | null = null;
    const partFor = (floats: number): GPUBuffer => {
      if (part === null || part.size < floats * 4) part = dev.createBuffer({ size: floats * 4, usage });
      return part;
    };
    const flop = 2 * s.M * s.K * s.N;
    const chosen = chooseMatmul(s.M, s.K, s.N);
    const timed: Array<{ c: MatmulChoice; ms: number }> = [];
    for (const c of matmulCandidates(s.M, s.K, s.N)) {
      const steps: Step[] = [];
      recordMatmul(rec, steps, c, { ...s, meta, a, w, b, o, extra: r === null ? [] : [r], part: partFor, tag: 'sweep', ln: null, normOut: null });
      await timer.time(steps, 1);
      const ms: number[] = [];
      for (let i = 0; i < 3; i++) ms.push(await timer.time(steps, reps));
      timed.push({ c, ms: ms.sort((x, y) => x - y)[1] });
    }
    timed.sort((x, y) => x.ms - y.ms);
    for (const t of timed) {
      rows.push({
        section: `matmul sweep ${s.label} ${s.M}x${s.K}x${s.N} (${s.ep})`, what: describeMatmul(t.c), ms: t.ms,
        note: `${(flop / t.ms / 1e9).toPrecision(3)} TFLOP/s${same(t.c, chosen) ? ' <- chooseMatmul' : ''}`,
      });
    }
  }
  return rows;
}
