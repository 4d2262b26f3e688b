/// <reference types="@webgpu/types" />
/**
 * GPU timing for the profile: with the `timestamp-query` feature, pass timestamps (exact GPU
 * time); without it, wall time from submit to onSubmittedWorkDone minus that of an empty submit.
 * Also `spinGpu`: a saturating busy loop that brings the GPU's clocks up before a measurement.
 * Invariant: at most one measurement in flight (one query set and read-back buffer, reused).
 */
import { encodeSteps, type Step } from './fast-plan.js';

/** Queries in the query set (two per pass; WebGPU allows 4096). */
const QUERIES = 4096;

/** Measures GPU time of recorded steps on one device. */
export class GpuTimer {
  private readonly qs: GPUQuerySet | null;
  private readonly resolve: GPUBuffer | null;
  private readonly read: GPUBuffer | null;
  private base: number | null = null;

  constructor(private readonly dev: GPUDevice) {
    const ts = dev.features.has('timestamp-query');
    this.qs = ts ? dev.createQuerySet({ type: 'timestamp', count: QUERIES }) : null;
    this.resolve = ts ? dev.createBuffer({ size: QUERIES * 8, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC }) : null;
    this.read = ts ? dev.createBuffer({ size: QUERIES * 8, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST }) : null;
  }

  /** 'timestamps' or 'wall clock'. */
  get method(): string {
    return this.qs === null ? 'wall clock (no timestamp-query)' : 'GPU timestamps';
  }

  /** Milliseconds of one repetition of `steps`, run `reps` times back to back in one pass. */
  async time(steps: readonly Step[], reps: number): Promise<number> {
    if (this.qs === null) return (await this.wall(steps, reps)) / reps;
    const enc = this.dev.createCommandEncoder();
    const pass = enc.beginComputePass({ timestampWrites: { querySet: this.qs, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } });
    for (let r = 0; r < reps; r++) encodeSteps(pass, steps);
    pass.end();
    const t = await this.resolveTimes(enc, 2);
    return Number(t[1] - t[0]) / 1e6 / reps;
  }

  /**
   * Each step in its own pass (timestamps only; null without them): per-step GPU ms and the span
   * from the first step's start to the last one's end (so span - sum = time between kernels).
   */
  async perStep(steps: readonly Step[]): Promise<{ ms: number[]; span: number } | null> {
    if (this.qs === null || 2 * steps.length > QUERIES) return null;
    const enc = this.dev.createCommandEncoder();
    steps.forEach((st, i) => {
      const pass = enc.beginComputePass({ timestampWrites: { querySet: this.qs as GPUQuerySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } });
      encodeSteps(pass, [st]);
      pass.end();
    });
    const t = await this.resolveTimes(enc, 2 * steps.length);
    const ms = steps.map((_, i) => Number(t[2 * i + 1] - t[2 * i]) / 1e6);
    return { ms, span: Number(t[2 * steps.length - 1] - t[0]) / 1e6 };
  }

  private async resolveTimes(enc: GPUCommandEncoder, n: number): Promise<BigInt64Array> {
    const resolve = this.resolve as GPUBuffer;
    const read = this.read as GPUBuffer;
    enc.resolveQuerySet(this.qs as GPUQuerySet, 0, n, resolve, 0);
    enc.copyBufferToBuffer(resolve, 0, read, 0, n * 8);
    this.dev.queue.submit([enc.finish()]);
    await read.mapAsync(GPUMapMode.READ, 0, n * 8);
    const t = new BigInt64Array(read.getMappedRange(0, n * 8).slice(0));
    read.unmap();
    return t;
  }

  /** Wall ms of `reps` repetitions minus an empty submission's. */
  private async wall(steps: readonly Step[], reps: number): Promise<number> {
    const once = async (n: number): Promise<number> => {
      const t0 = performance.now();
      const enc = this.dev.createCommandEncoder();
      const pass = enc.beginComputePass();
      for (let r = 0; r < n; r++) encodeSteps(pass, steps);
      pass.end();
      this.dev.queue.submit([enc.finish()]);
      await this.dev.queue.onSubmittedWorkDone();
      return performance.now() - t0;
    };
    if (this.base === null) {
      const b: number[] = [];
      for (let i = 0; i < 5; i++) b.push(await once(0));
      this.base = b.sort((x, y) => x - y)[2];
    }
    return Math.max(0, (await once(reps)) - this.base);
  }
}

const SPIN = `@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  var x = f32(g.x) * 1.0e-6;
  for (var i = 0; i < 4096; i = i + 1) { x = x * 0.9999 + 0.0001; }
  out[g.x] = x;
}`;

/**
 * Keeps the GPU saturated for about `ms` milliseconds (FMA loops over 1024 workgroups, several
 * dispatches a submission). NOTE: the H200's driver runs the SM clock at 345-570 MHz instead of
 * 1980 while utilisation is low (seen during the single-call benchmarks); a burst first measures
 * calls at the clock a busy server runs at (the check script reports both, with the clock seen).
 */
export async function spinGpu(dev: GPUDevice, ms: number): Promise<void> {
  const out = dev.createBuffer({ size: 1024 * 256 * 4, usage: GPUBufferUsage.STORAGE });
  const pipe = dev.createComputePipeline({ layout: 'auto', compute: { module: dev.createShaderModule({ code: SPIN }), entryPoint: 'main' } });
  const group = dev.createBindGroup({ layout: pipe.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: out } }] });
  const end = performance.now() + ms;
  while (performance.now() < end) {
    const enc = dev.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(pipe);
    pass.setBindGroup(0, group);
    for (let i = 0; i < 8; i++) pass.dispatchWorkgroups(1024);
    pass.end();
    dev.queue.submit([enc.finish()]);
    await dev.queue.onSubmittedWorkDone();
  }
}
