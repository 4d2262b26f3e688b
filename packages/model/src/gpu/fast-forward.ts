/// <reference types="@webgpu/types" />
/**
 * FastForward: the whole forward pass (decode step or prefill chunk) as hand-built WebGPU
 * dispatches, bypassing tfjs dispatch: weights uploaded once into GPUBuffers; per call only the
 * `info` (row data) and page-table buffers are written; embed, then per layer normalize -> qkv
 * matmul (its epilogue appends K/V to the pool and kvOut) -> attention -> proj (+residual) ->
 * normalize -> fc (+gelu) -> fc2 (+residual), then normalize -> head -> argmax.
 * K/V hand-back: decode (M <= SMALL_M) is ONE command buffer ending in copies of every layer's
 * new K/V rows and the output into one staging buffer, and one mapAsync. A prefill cuts its work into one command buffer
 * per layer, each ending right after that layer's qkv matmul (whose epilogue completes its K/V
 * rows) with a copy of the rows to the layer's own staging buffer, and maps them in order: layer
 * l's rows reach the host (and `onLayer`) while the GPU computes the rest of layer l and beyond
 * (fast-readback.ts: K/V land in the host thread's shared reply area, valid until the next call).
 * Choices (matmul rule, hand-back point, LayerNorm fusion): fast-variant.ts.
 * The KV pool stays the tfjs tensors of GpuKvPool (shared with the tfjs path and `load`): their
 * GPUBuffers are looked up per call and tfjs's pending commands are submitted first.
 * Invariants: bind groups are rebuilt only when a buffer they name changes; rows beyond M are
 * never written; pipelines are compiled once per kernel kind.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GptConfig } from '../config.js';
import type { FoldedWeights } from '../model-tensors.js';
import { flashAttentionWgsl, flashGeometry, flashSharedBytes, attentionWgsl } from './attention-kernels.js';
import { argmaxWgsl, embedWgsl, normalizeWgsl, type Epilogue, type KernelShape } from './fast-kernels.js';
import { DispatchRecorder, encodeSteps, type Binding, type Plan, type Step } from './fast-plan.js';
import { readBack, type FastOutput, type FastResult, type LayerSink, type RunTimeline } from './fast-readback.js';
import { DEFAULT_VARIANT, fusesNorm, type FastVariant } from './fast-variant.js';
import { GPU_PAGE } from './forward-ops.js';
import type { GpuKvPool } from './gpu-kv-pool.js';
import type { GpuStepStats } from './gpu-protocol.js';
import { recordMatmul, SMALL_M } from './matmul-kernels.js';

/** The part of tfjs-backend-webgpu's backend this module uses. */
interface WebGpuBackendInternals {
  device: GPUDevice;
  commandEncoder: GPUCommandEncoder | null;
  endComputePassEncoder(): void;
  submitQueue(): void;
  uploadToGPU(dataId: object): void;
  tensorMap: { get(dataId: object): { resource: unknown } };
}

/** One forward call's rows. */
export interface FastRows {
  tokens: number[];
  positions: number[];
  /** Pool row of each row's K. */
  dst: number[];
  /** Page-table row of each row. */
  tableRows: number[];
  /** Page tables [S * maxPages]. */
  pages: Int32Array;
}

interface Dense { w: GPUBuffer; b: GPUBuffer; K: number; N: number }
/** One matmul of a plan: weights, input A, output, epilogue and its bindings, labels. */
interface MatmulSite { d: Dense; a: GPUBuffer; o: GPUBuffer; ep: Epilogue; extra: Binding[]; M: number; tag: string; label: string }

/** Options of one run. */
export interface RunOptions {
  /** Receives each layer's K/V rows as soon as they are read back (then the result's kv is null). */
  onLayer?: LayerSink | null;
  /** false: skip the K/V read-back (profile: compute only). */
  readKv?: boolean;
  /** Filled with the host-side times of the call (profile). */
  timeline?: RunTimeline | null;
}

/** Recorded call shapes kept (one per distinct row count, output and attention kind). */
const MAX_PLANS = 256;
interface Scratch {
  cap: number;
  pagesCap: number;
  meta: GPUBuffer; pages: GPUBuffer; xa: GPUBuffer; xb: GPUBuffer; h: GPUBuffer; qkv: GPUBuffer; y: GPUBuffer;
  f: GPUBuffer; logits: GPUBuffer; ids: GPUBuffer;
  /** Per layer: the call's new K rows then V rows [2, M, C]. */
  kvOut: GPUBuffer[];
  /** Output read-back, and all layers' K/V of a decode call followed by its output. */
  outStaging: GPUBuffer; kvStaging: GPUBuffer;
  /** Per layer K/V read-back of a prefill (made on first use). */
  layerStaging: GPUBuffer[] | null;
}

const STORAGE = (): number => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
const READBACK = (): number => GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST;

/** Whether the fast pipeline supports this model (head size, widths, activation). */
export function fastForwardFits(config: GptConfig): boolean {
  const hd = config.nEmbd / config.nHead;
  const tanhGelu = ['gelu_new', 'gelu_pytorch_tanh', 'gelu_fast'].includes(config.activation);
  // NOTE: the row attention kernel keeps scores and key rows of up to 1024 positions in workgroup memory.
  return tanhGelu && Number.isInteger(hd) && hd % 4 === 0 && 64 % hd === 0 && config.nEmbd % 64 === 0 && config.nPositions <= 1024;
}

/** The hand-built forward pipeline of one model on the tfjs WebGPU backend's device. */
export class FastForward {
  private readonly be: WebGpuBackendInternals;
  /** The device (the profile encodes its own passes on it). */
  readonly dev: GPUDevice;
  private readonly blocks: Array<{ attn: Dense; proj: Dense; fc: Dense; mlp: Dense }>;
  private readonly head: Dense;
  private readonly wte: GPUBuffer;
  private readonly wpe: GPUBuffer;
  private readonly rec: DispatchRecorder;
  private plans = new Map<string, { pools: GPUBuffer[]; plan: Plan }>();
  private s: Scratch | null = null;
  private part: GPUBuffer | null = null;
  private readonly shape: KernelShape;
  private readonly variant: FastVariant;
  private readonly blockAttention: boolean;
  private stats: GpuStepStats = zeroStats();
  /** While recording: the buffer whose LayerNorm the last matmul also wrote to h, or null. */
  private normed: GPUBuffer | null = null;

  constructor(private readonly config: GptConfig, weights: FoldedWeights, private readonly pool: GpuKvPool, variant: Partial<FastVariant> = {}) {
    this.be = tf.backend() as unknown as WebGpuBackendInternals;
    this.dev = this.be.device;
    this.rec = new DispatchRecorder(this.dev);
    this.variant = { ...DEFAULT_VARIANT, ...variant };
    const { nEmbd: C, nInner: I, vocabSize: V } = config;
    const dense = (w: Float32Array, b: Float32Array, K: number, N: number): Dense => ({ w: this.upload(w), b: this.upload(b), K, N });
    this.blocks = weights.blocks.map((b) => ({
      attn: dense(b.attnW, b.attnB, C, 3 * C), proj: dense(b.projW, b.projB, C, C),
      fc: dense(b.fcW, b.fcB, C, I), mlp: dense(b.mlpW, b.mlpB, I, C),
    }));
    this.head = dense(weights.headW, weights.headB, C, V);
    this.wte = this.upload(weights.wte);
    this.wpe = this.upload(weights.wpe);
    const maxLen = Math.ceil(config.nPositions / GPU_PAGE) * GPU_PAGE;
    const hd = C / config.nHead;
    this.shape = { C, nHead: config.nHead, V, maxLen, scale: 1 / Math.sqrt(hd) };
    // NOTE: the block kernel needs ~20 KiB of workgroup memory at hd 64 (WebGPU guarantees 16 KiB).
    this.blockAttention = this.variant.prefillAttention === 'block' && flashSharedBytes(hd) <= this.dev.limits.maxComputeWorkgroupStorageSize;
  }

  /** Bytes of K/V one row hands back (every layer's K and V). */
  get kvBytesPerRow(): number {
    return this.config.nLayer * 2 * this.config.nEmbd * 4;
  }

  /**
   * Runs one forward call over `rows` (all rows' K/V appended to the pool first, per layer).
   * A prefill (M > SMALL_M) with the K/V read-back submits one command buffer per layer (or per
   * handBackEvery layers), each ending in the copy of its layers' K/V rows (see FastVariant.handBack),
   * and maps them in order.
   */
  async run(rows: FastRows, output: FastOutput, opts: RunOptions = {}): Promise<FastResult> {
    const t0 = performance.now();
    const { nEmbd: C, vocabSize: V, nLayer: L } = this.config;
    const readKv = opts.readKv ?? true;
    const M = rows.tokens.length;
    const plan = this.prepare(rows, output);
    const s = this.s as Scratch;
    const stream = readKv && M > SMALL_M;
    const kvBytes = M * 2 * C * 4;
    const outBytes = output === 'none' ? 0 : output === 'ids' ? M * 4 : output === 'last' ? V * 4 : M * V * 4;
    const layerStaging = stream ? this.layerStaging() : [];
    let submits = 1;
    let enc = this.dev.createCommandEncoder();
    let pass = enc.beginComputePass();
    encodeSteps(pass, plan.pre);
    let uncopied = 0;
    // NOTE: a decode call's layers go in several command buffers (decodeSubmitEvery): the GPU
    // starts on the first layers while the host still encodes the rest.
    const early = !stream && M <= SMALL_M ? this.variant.decodeSubmitEvery : 0;
    for (let l = 0; l < L; l++) {
      const steps = plan.layers[l];
      const every = this.variant.handBackEvery;
      if (!stream || (l % every !== every - 1 && l !== L - 1)) {
        encodeSteps(pass, steps);
        if (early > 0 && l % early === early - 1 && l < L - 1) {
          pass.end();
          this.dev.queue.submit([enc.finish()]);
          submits++;
          enc = this.dev.createCommandEncoder();
          pass = enc.beginComputePass();
        }
        continue;
      }
      const cut = this.variant.handBack === 'qkv' ? plan.kvAt[l] : steps.length;
      encodeSteps(pass, steps, 0, cut);
      pass.end();
      for (; uncopied <= l; uncopied++) enc.copyBufferToBuffer(s.kvOut[uncopied], 0, layerStaging[uncopied], 0, kvBytes);
      this.dev.queue.submit([enc.finish()]);
      submits++;
      enc = this.dev.createCommandEncoder();
      pass = enc.beginComputePass();
      encodeSteps(pass, steps, cut);
    }
    encodeSteps(pass, plan.post);
    pass.end();
    // NOTE: a decode's output lands after its K/V rows in one staging buffer: one map, not two.
    const outInKv = readKv && !stream;
    const outDst = outInKv ? s.kvStaging : s.outStaging;
    const outAt = outInKv ? L * kvBytes : 0;
    if (output === 'ids') enc.copyBufferToBuffer(s.ids, 0, outDst, outAt, outBytes);
    else if (output !== 'none') enc.copyBufferToBuffer(s.logits, output === 'last' ? (M - 1) * V * 4 : 0, outDst, outAt, outBytes);
    if (outInKv) for (let l = 0; l < L; l++) enc.copyBufferToBuffer(s.kvOut[l], 0, s.kvStaging, l * kvBytes, kvBytes);
    this.dev.queue.submit([enc.finish()]);
    const submitted = performance.now() - t0;
    const timeline = opts.timeline ?? null;
    if (timeline !== null) Object.assign(timeline, { submitted, mapped: [], copied: [], done: 0 });
    const r = await readBack({
      nLayer: L, output, outBytes, kvBytes: readKv ? kvBytes : 0, layerStaging, kvStaging: s.kvStaging, outStaging: s.outStaging,
      outInKv, onLayer: opts.onLayer ?? null, t0, timeline,
    });
    const done = performance.now() - t0;
    if (timeline !== null) timeline.done = done;
    const st = this.stats;
    st.calls++;
    st.dispatches += plan.pre.length + plan.post.length + plan.layers.reduce((a, l) => a + l.length, 0);
    st.submits += submits;
    st.encodeMs += submitted;
    st.runMs += done;
    return r;
  }

  /**
   * Writes existing K/V rows ([n, 2C]: per row K then V) of layer l into the pool at the K rows
   * `dst` (V rows GPU_PAGE further), straight into the pool's GPUBuffer: one queue write per run of
   * rows that are consecutive in the pool (a page's K rows, then its V rows), no tfjs op.
   * NOTE: tfjs's pending commands are submitted first: a pool grown by the dst lookups is filled
   * by a pending tfjs copy, which must land before these rows.
   */
  load(l: number, dst: readonly number[], rows: Float32Array): void {
    const C = this.config.nEmbd;
    this.flushTfjs();
    const buf = this.poolBuffer(l);
    const n = dst.length;
    const run = new Float32Array(GPU_PAGE * C);
    for (let i = 0; i < n;) {
      let j = i + 1;
      while (j < n && dst[j] === dst[j - 1] + 1 && dst[j] % (2 * GPU_PAGE) < GPU_PAGE) j++;
      for (const [half, off] of [[0, 0], [C, GPU_PAGE]] as const) {
        for (let t = i; t < j; t++) run.set(rows.subarray(t * 2 * C + half, t * 2 * C + half + C), (t - i) * C);
        this.dev.queue.writeBuffer(buf, (dst[i] + off) * C * 4, run, 0, (j - i) * C);
      }
      i = j;
    }
  }

  /**
   * Writes the rows' info and page tables, submits tfjs's pending commands and returns the
   * call's plan (recorded once per shape). The profile uses it to time the steps alone.
   */
  prepare(rows: FastRows, output: FastOutput): Plan {
    const M = rows.tokens.length;
    const s = this.scratch(M, rows.pages.length);
    const meta = new Int32Array(4 + 4 * M);
    meta[0] = M;
    for (let r = 0; r < M; r++) meta.set([rows.tokens[r], rows.positions[r], rows.dst[r], rows.tableRows[r]], 4 + 4 * r);
    this.dev.queue.writeBuffer(s.meta, 0, meta);
    this.dev.queue.writeBuffer(s.pages, 0, rows.pages);
    const pools = Array.from({ length: this.config.nLayer }, (_, l) => this.poolBuffer(l));
    // NOTE: tfjs may hold encoded but unsubmitted commands that write the pool (growth, tfjs path).
    this.flushTfjs();
    const block = this.blockAttention && M > SMALL_M && isOnePrefill(rows);
    const key = `${M}|${output}|${block}`;
    const cached = this.plans.get(key);
    if (cached !== undefined && cached.pools.every((b, i) => b === pools[i])) return cached.plan;
    const plan = this.record(M, output, pools, block);
    if (this.plans.size >= MAX_PLANS) this.plans.clear();
    this.plans.set(key, { pools, plan });
    return plan;
  }

  /** Call totals since the last take (GpuStepStats), restarted. */
  takeStats(): GpuStepStats {
    const st = this.stats;
    this.stats = zeroStats();
    return st;
  }

  /**
   * Lets go of every buffer this pipeline owns (not the pool's).
   * NOTE: the buffers are dropped, not destroy()ed: destroying one while the queue may still hold
   * work that binds it left Dawn (webgpu 0.6.2) with a pending exception, and the next native call
   * aborted the process (seen on an H200 when a model was disposed after the benchmarks). Dawn frees
   * a dropped buffer once it is collected.
   */
  dispose(): void {
    this.blocks.length = 0;
    this.s = null;
    this.part = null;
    this.rec.resetGroups();
    this.plans = new Map();
  }

  /** The dispatches of one call shape (M rows, output, attention kind). */
  private record(M: number, output: FastOutput, pools: GPUBuffer[], block: boolean): Plan {
    const { nEmbd: C, vocabSize: V, nLayer: L, nHead } = this.config;
    const s = this.s as Scratch;
    const plan: Plan = { pre: [], layers: [], post: [], kvAt: [] };
    this.normed = null;
    const elems = (n: number): number => Math.ceil((n * C) / 256);
    const d = (steps: Step[], kind: string, code: () => string, bufs: Binding[], grid: number[], label: string, tag?: string): void =>
      this.rec.dispatch(steps, { kind, code, bufs, grid, label, tag });
    d(plan.pre, 'embed', () => embedWgsl(C), [s.meta, this.wte, this.wpe, s.xa], [elems(M)], 'embed');
    for (let l = 0; l < L; l++) {
      const steps: Step[] = [];
      const b = this.blocks[l];
      const poolBuf = pools[l];
      // NOTE: the qkv matmul's epilogue appends the K/V rows to the pool and kvOut (no append dispatch).
      this.normMatmul(steps, { d: b.attn, a: s.xa, o: s.qkv, ep: 'kv', extra: [poolBuf, s.kvOut[l]], M, tag: `attn${l}`, label: 'qkv' });
      plan.kvAt.push(steps.length);
      if (block) {
        const { bq } = flashGeometry(C / nHead);
        d(steps, 'flash', () => flashAttentionWgsl(this.shape, this.pool.maxPages), [s.meta, s.qkv, poolBuf, s.pages, s.y], [nHead, Math.ceil(M / bq)], 'attention', `flash${l}`);
      } else {
        d(steps, 'attention', () => attentionWgsl(this.shape, this.pool.maxPages), [s.meta, s.qkv, poolBuf, s.pages, s.y], [nHead, M], 'attention', `attention${l}`);
      }
      this.matmul(steps, { d: b.proj, a: s.y, o: s.xb, ep: 'residual', extra: [s.xa], M, tag: `proj${l}`, label: 'proj' });
      this.normMatmul(steps, { d: b.fc, a: s.xb, o: s.f, ep: 'gelu', extra: [], M, tag: `fc${l}`, label: 'fc' });
      this.matmul(steps, { d: b.mlp, a: s.f, o: s.xa, ep: 'residual', extra: [s.xb], M, tag: `mlp${l}`, label: 'fc2' });
      plan.layers.push(steps);
    }
    if (output !== 'none') {
      this.normMatmul(plan.post, { d: this.head, a: s.xa, o: s.logits, ep: 'none', extra: [], M, tag: 'head', label: 'head' });
      if (output === 'ids') d(plan.post, 'argmax', () => argmaxWgsl(V), [s.meta, s.logits, s.ids], [M], 'argmax');
    }
    return plan;
  }

  private normalize(steps: Step[], x: GPUBuffer, y: GPUBuffer, M: number): void {
    const { nEmbd: C, layerNormEpsilon: eps } = this.config;
    this.rec.dispatch(steps, { kind: 'normalize', code: () => normalizeWgsl(C, eps), bufs: [(this.s as Scratch).meta, x, y], grid: [M], label: 'ln' });
  }

  /**
   * One matmul. A residual one (proj, fc2) is always read next by a LayerNorm: its split-K reduce
   * writes that LayerNorm into the scratch h when it can, and `normed` notes it for normMatmul.
   */
  private matmul(steps: Step[], m: MatmulSite, ln: number | null = null): void {
    const { d, M } = m;
    const s = this.s as Scratch;
    const normOut = m.ep === 'residual' && this.variant.fuseNorm !== 'never' ? { h: s.h, eps: this.config.layerNormEpsilon } : null;
    const call = { ...m, K: d.K, N: d.N, w: d.w, b: d.b, meta: s.meta, part: (n: number) => this.partBuffer(n), ln, normOut };
    this.normed = recordMatmul(this.rec, steps, this.variant.matmul(M, d.K, d.N), call) ? m.o : null;
  }

  /**
   * LayerNorm (no affine: folded into the weights) of m.a, then the matmul: already in h when the
   * matmul that wrote m.a produced it (its fused reduce), else normalized in the matmul's A loads
   * where that pays (fusesNorm: one dispatch less, no normalized copy), else a normalize dispatch
   * into the scratch h first.
   */
  private normMatmul(steps: Step[], m: MatmulSite): void {
    const h = (this.s as Scratch).h;
    if (this.normed === m.a) {
      this.normed = null;
      return this.matmul(steps, { ...m, a: h });
    }
    const c = this.variant.matmul(m.M, m.d.K, m.d.N);
    const fuse = this.variant.fuseNorm === 'always' ? c.kind !== 'tiled' : this.variant.fuseNorm === 'paying' && fusesNorm(c, m.d.N);
    if (fuse) return this.matmul(steps, m, this.config.layerNormEpsilon);
    this.normalize(steps, m.a, h, m.M);
    this.matmul(steps, { ...m, a: h });
  }

  /** The split-K partials buffer, at least `floats` long (grown, never shrunk). */
  private partBuffer(floats: number): GPUBuffer {
    if (this.part === null || this.part.size < floats * 4) this.part = this.dev.createBuffer({ size: Math.max(floats * 4, (this.part?.size ?? 0) * 2), usage: STORAGE() });
    return this.part;
  }

  /** Submits tfjs's encoded but unsubmitted commands. */
  private flushTfjs(): void {
    if (this.be.commandEncoder !== null && this.be.commandEncoder !== undefined) {
      this.be.endComputePassEncoder();
      this.be.submitQueue();
    }
  }

  /** The GPUBuffer of layer l's pool tensor (uploaded if tfjs still holds it on the CPU). */
  private poolBuffer(l: number): GPUBuffer {
    const t = this.pool.layer(l);
    this.be.uploadToGPU(t.dataId);
    return this.be.tensorMap.get(t.dataId).resource as GPUBuffer;
  }

  private upload(data: Float32Array): GPUBuffer {
    const buf = this.dev.createBuffer({ size: Math.max(16, data.byteLength), usage: STORAGE() });
    this.dev.queue.writeBuffer(buf, 0, data);
    return buf;
  }

  /** Per layer K/V staging buffers of a prefill, for the current capacity. */
  private layerStaging(): GPUBuffer[] {
    const s = this.s as Scratch;
    const bytes = s.cap * 2 * this.config.nEmbd * 4;
    s.layerStaging ??= Array.from({ length: this.config.nLayer }, () => this.dev.createBuffer({ size: bytes, usage: READBACK() }));
    return s.layerStaging;
  }

  /** Scratch buffers for at least M rows and a page table of `pagesLen` entries (grown, never shrunk). */
  private scratch(M: number, pagesLen: number): Scratch {
    if (this.s !== null && this.s.cap >= M && this.s.pagesCap >= pagesLen) return this.s;
    const { nEmbd: C, nInner: I, vocabSize: V, nLayer: L } = this.config;
    const cap = Math.max(M, this.s?.cap ?? 0, SMALL_M);
    const pagesCap = Math.max(pagesLen, this.s?.pagesCap ?? 0, 64);
    const buf = (floats: number, usage = STORAGE()): GPUBuffer => this.dev.createBuffer({ size: Math.max(16, floats * 4), usage });
    this.s = {
      cap, pagesCap, meta: buf(4 + 4 * cap), pages: buf(pagesCap), xa: buf(cap * C), xb: buf(cap * C), h: buf(cap * C),
      qkv: buf(cap * 3 * C), y: buf(cap * C), f: buf(cap * I), logits: buf(cap * V), ids: buf(cap),
      kvOut: Array.from({ length: L }, () => buf(cap * 2 * C)),
      outStaging: buf(cap * V, READBACK()), kvStaging: buf(L * SMALL_M * 2 * C + SMALL_M * V, READBACK()), layerStaging: null,
    };
    this.rec.resetGroups();
    this.plans = new Map();
    return this.s;
  }
}

function zeroStats(): GpuStepStats {
  return { calls: 0, dispatches: 0, submits: 0, encodeMs: 0, runMs: 0 };
}

/** Whether the rows are one sequence's consecutive positions (a prefill chunk). */
function isOnePrefill(rows: FastRows): boolean {
  return rows.tableRows.every((t) => t === rows.tableRows[0]) && rows.positions.every((p, i) => p === rows.positions[0] + i);
}
