/**
 * WasmForward: the CPU fast path of the forward pass (reference-forward.ts is the reference it is
 * tested against), computing entirely in the KvArena's WebAssembly memory with the model's own
 * kernels: GEMMs (wasm/gemm-kernel.ts; mlp.c_fc's with gelu_new in its epilogue), LayerNorm
 * normalisation (wasm/row-kernels.ts) and attention (wasm/attention-kernel.ts). Weights are packed once at load into that memory;
 * per call only embeddings go in and logits (plus each new K/V row, to the KvBacking) come out,
 * with no tfjs op and no copy across the JS/wasm boundary in between.
 * Folded at load, and why:
 *  - ln_1 / ln_2 / ln_f gamma and beta into the dense layer that reads them (foldWeights), so a
 *    LayerNorm is only its normalisation;
 *  - attn.c_attn is split into its q, k and v column blocks, q's scaled by 1 / sqrt(head size),
 *    so q lands where attention reads it, pre-scaled, and k / v are contiguous rows for the cache;
 *  - the tied head (wteᵀ, ln_f folded) is one more packed dense layer with a bias.
 * With threads > 1 (BATON_CPU_THREADS) the GEMMs are split over the threads (by rows for a
 * prefill, by columns for a decode batch: gemm-pool.ts) and so are a batch's attention calls (by
 * sequence), bitwise as on one thread.
 * Invariant: a segment's results never depend on the other segments, bitwise (GEMM rows are
 * computed the same way in any batch, attention runs per segment), so batched decode equals
 * single decode bitwise.
 */
import type { GptConfig } from './config.js';
import { embedRows } from './embedding.js';
import type { ForwardHost, ForwardPass, LogitRows, Segment } from './forward-pass.js';
import type { AttendCall, KvArena } from './kv-arena.js';
import { foldWeights } from './model-tensors.js';
import { CHUNK_ROWS, COLUMN_ALIGN, packedSize, packPanels, roundUp } from './wasm/gemm-kernel.js';
import { GemmPool } from './wasm/gemm-pool.js';
import { createRowKernels, type RowKernels } from './wasm/row-kernels.js';
import { relaxedSimdSupported } from './wasm/simd-features.js';
import type { GptWeights } from './weights.js';

/** Rows of the head computed at once (bounds the logits scratch for large vocabularies). */
const LOGIT_ROWS = 64;

/** A packed dense layer: byte addresses of its panels and bias, and its padded output width. */
interface Dense { w: number; b: number; k: number; n: number }
interface Block { q: Dense; k: Dense; v: Dense; proj: Dense; fc: Dense; mlp: Dense }

/** Bump allocator over the reserved bytes (64-byte aligned regions). */
class Layout {
  end: number;
  constructor(readonly base: number) { this.end = base; }
  take(floats: number): number {
    const at = this.end;
    this.end = roundUp(this.end + floats * 4, 64);
    return at;
  }
}

/**
 * Row length of the GEMMs' partial-sum scratch (gemm-kernel.ts: chunked K): the widest block
 * output. NOTE: the head (vocabulary-wide) is left out; a GEMM wider than this runs unchunked.
 */
function partialCols(config: GptConfig): number {
  return roundUp(Math.max(config.nEmbd, config.nInner), COLUMN_ALIGN);
}

/** The byte layout of weights and scratch for `config` (addresses relative to `base`), with GEMM partial sums for `threads`. */
function plan(config: GptConfig, base: number, threads: number): { layout: Layout; blocks: Block[]; head: Dense; scratch: Record<'x' | 'h' | 'q' | 'k' | 'v' | 'y' | 'f' | 'logits' | 'partials', number>; maxRows: number } {
  const { nEmbd: C, nInner: I, vocabSize: V, nLayer: L, nPositions } = config;
  const layout = new Layout(base);
  const dense = (k: number, n: number): Dense => ({ w: layout.take(packedSize(k, n)), b: layout.take(roundUp(n, COLUMN_ALIGN)), k, n: roundUp(n, COLUMN_ALIGN) });
  const blocks = Array.from({ length: L }, (): Block => ({ q: dense(C, C), k: dense(C, C), v: dense(C, C), proj: dense(C, C), fc: dense(C, I), mlp: dense(I, C) }));
  const head = dense(C, V);
  const maxRows = nPositions;
  const rows = (width: number): number => layout.take(maxRows * width);
  const scratch = { x: rows(C), h: rows(C), q: rows(C), k: rows(C), v: rows(C), y: rows(C), f: rows(I), logits: layout.take(LOGIT_ROWS * head.n), partials: layout.take(threads * CHUNK_ROWS * partialCols(config)) };
  return { layout, blocks, head, scratch, maxRows };
}

/** The wasm-kernel forward pass of one model. */
export class WasmForward implements ForwardPass {
  /** Most rows one call may hold (n_positions): longer decode batches are split by the caller. */
  readonly maxRows: number;
  readonly usesArena = true;
  private readonly gemm: GemmPool;
  private readonly rowK: RowKernels;
  private readonly blocks: Block[];
  private readonly head: Dense;
  private readonly s: ReturnType<typeof plan>['scratch'];
  private readonly wte: Float32Array;
  private readonly wpe: Float32Array;

  /** Whether this path runs `config` (head size and widths multiples of 8, a tanh-gelu MLP). */
  static supports(config: GptConfig): boolean {
    const hd = config.nEmbd / config.nHead;
    return hd % 8 === 0 && config.nInner % 8 === 0 && ['gelu_new', 'gelu_pytorch_tanh', 'gelu_fast'].includes(config.activation);
  }

  /** Bytes of arena memory this path needs for `config` on `threads` (pass as the arena's reserveBytes). */
  static reserveBytes(config: GptConfig, threads = 1): number {
    return plan(config, 0, threads).layout.end;
  }

  constructor(
    private readonly config: GptConfig,
    weights: GptWeights,
    private readonly arena: KvArena,
    private readonly host: ForwardHost,
    /** Threads a prefill's GEMMs run on (> 1 needs a shared arena memory). */
    threads = 1,
  ) {
    const p = plan(config, arena.reservedAddr, threads);
    this.blocks = p.blocks;
    this.head = p.head;
    this.s = p.scratch;
    this.maxRows = p.maxRows;
    const memory = arena.wasmMemory;
    const { nEmbd: C, nInner: I } = config;
    // A's row stride is C (h, y) or I (the MLP's activations): kernels with each fixed.
    // NOTE: the workers' attention kernels use the GEMMs' fma flag; the arena's own kernel was
    // compiled with the same detection (gpt.ts), so every thread's attention rounds alike.
    this.gemm = new GemmPool(memory, relaxedSimdSupported(), threads, [C, I], threads > 1 ? (t) => arena.helperShape(t) : null, (t) => ({ at: p.scratch.partials + t * CHUNK_ROWS * partialCols(config) * 4, cols: partialCols(config) }));
    this.rowK = createRowKernels(memory);
    const f = foldWeights(config, weights);
    const mem = new Float32Array(memory.buffer);
    const put = (d: Dense, w: Float32Array, ld: number, col0: number, bias: Float32Array, scale = 1): void => {
      packPanels({ data: w, ld, col0 }, d.k, Math.min(d.n, ld - col0), mem, d.w >> 2, scale);
      mem.fill(0, d.b >> 2, (d.b >> 2) + d.n);
      for (let j = 0; j < Math.min(d.n, ld - col0); j++) mem[(d.b >> 2) + j] = bias[col0 + j] * scale;
    };
    const qScale = 1 / Math.sqrt(C / config.nHead);
    f.blocks.forEach((b, l) => {
      const d = this.blocks[l];
      put(d.q, b.attnW, 3 * C, 0, b.attnB, qScale);
      put(d.k, b.attnW, 3 * C, C, b.attnB);
      put(d.v, b.attnW, 3 * C, 2 * C, b.attnB);
      put(d.proj, b.projW, C, 0, b.projB);
      put(d.fc, b.fcW, I, 0, b.fcB);
      put(d.mlp, b.mlpW, C, 0, b.mlpB);
    });
    put(this.head, f.headW, config.vocabSize, 0, f.headB);
    this.wte = f.wte;
    this.wpe = f.wpe;
  }

  /** Whether the GEMMs use relaxed-SIMD multiply-adds. */
  get fma(): boolean {
    return this.gemm.fma;
  }

  /** ForwardPass.forward, for at most maxRows tokens in all. */
  forward(segments: readonly Segment[], logits: LogitRows, onLayerDone?: (layer: number) => void): Float32Array | null {
    const { nEmbd: C, nInner: I, layerNormEpsilon: eps } = this.config;
    const { gemm, gemmAdd, gemmGelu } = this.gemm;
    const s = this.s;
    const n = segments.reduce((sum, g) => sum + g.tokens.length, 0);
    // NOTE: pages first: nothing below may grow the memory, so one view serves the whole call.
    for (const g of segments) this.arena.ensureRows(g.seq.slot, g.seq.length + g.tokens.length);
    const mem = new Float32Array(this.arena.wasmMemory.buffer);
    // Per segment, the first of its rows whose logits are wanted (a suffix: all, the last, none).
    const wanted = segments.map(({ tokens }) => (logits === 'all' ? 0 : logits === 'last' ? tokens.length - 1 : tokens.length));
    this.embed(mem, segments);
    let m = n; // rows still computed: all, until the last layer drops those no logit needs
    for (const [l, b] of this.blocks.entries()) {
      const last = l === this.blocks.length - 1;
      // ln_1 -> attn.c_attn's k and v [n, C] for every row (the cache needs them all)
      this.rowK.normalize(s.x, s.h, n, C, 1 / C, eps);
      gemm(s.h, C, b.k.w, b.k.b, s.k, C, n, C, C);
      gemm(s.h, C, b.v.w, b.v.b, s.v, C, n, C, C);
      let row = 0;
      for (const { seq, tokens } of segments) {
        const T = tokens.length;
        this.host.loadLayer(seq, l);
        const at = (base: number): Float32Array => mem.subarray((base >> 2) + row * C, (base >> 2) + (row + T) * C);
        this.host.storeKv(seq, l, seq.length, at(s.k), at(s.v));
        row += T;
      }
      // NOTE: in the last layer only the rows whose logits are wanted go on past K/V (as
      // llama.cpp does): the others' attention output and MLP feed nothing. Their x and h rows
      // are moved to the front, in order; each kept row is computed as it would be otherwise.
      if (last) m = this.keepRows(mem, segments, wanted);
      // attn.c_attn's q [m, C], then causal attention of each segment's rows over its cache: y [m, C]
      gemm(s.h, C, b.q.w, b.q.b, s.q, C, m, C, C);
      row = 0;
      const calls: AttendCall[] = [];
      for (const [i, { seq, tokens }] of segments.entries()) {
        const from = last ? wanted[i] : 0;
        const T = tokens.length - from;
        if (T > 0) calls.push({ layer: l, slot: seq.slot, q: s.q + row * C * 4, y: s.y + row * C * 4, rows: T, pos0: seq.length + from });
        row += T;
      }
      this.attendAll(calls);
      onLayerDone?.(l);
      if (m === 0) continue;
      gemmAdd(s.y, C, b.proj.w, b.proj.b, s.x, C, m, C, C); // x += attn.c_proj(y)
      // ln_2 -> mlp.c_fc with gelu (one kernel) -> mlp.c_proj, added to x
      this.rowK.normalize(s.x, s.h, m, C, 1 / C, eps);
      gemmGelu(s.h, C, b.fc.w, b.fc.b, s.f, I, m, C, I);
      gemmAdd(s.f, I, b.mlp.w, b.mlp.b, s.x, C, m, I, C);
    }
    for (const g of segments) g.seq.len += g.tokens.length;
    return logits === 'none' ? null : this.lmHead(mem, m);
  }

  /**
   * Runs the attention calls (one per segment), the first ones shared out to the worker threads
   * (an equal number each; this thread takes the rest), then waits for them. A sequence's
   * attention runs the same code on any thread, so results do not depend on the split.
   */
  private attendAll(calls: readonly AttendCall[]): void {
    const threads = this.gemm.threads;
    const per = Math.floor(calls.length / threads);
    if (per === 0) {
      for (const c of calls) this.arena.attendAt(c.layer, c.slot, c.q, c.y, c.rows, c.pos0);
      return;
    }
    for (let t = 1; t < threads; t++) this.gemm.attend(t, this.arena.prepareHelper(t, calls.slice((t - 1) * per, t * per)), per);
    for (const c of calls.slice((threads - 1) * per)) this.arena.attendAt(c.layer, c.slot, c.q, c.y, c.rows, c.pos0);
    this.gemm.join();
  }

  /** Moves each segment's rows from wanted[i] on (of x and h) to the front, in order; returns their count. */
  private keepRows(mem: Float32Array, segments: readonly Segment[], wanted: readonly number[]): number {
    const C = this.config.nEmbd;
    let row = 0;
    let kept = 0;
    for (const [i, { tokens }] of segments.entries()) {
      const rows = tokens.length - wanted[i];
      if (row + wanted[i] !== kept) {
        for (const base of [this.s.x >> 2, this.s.h >> 2]) mem.copyWithin(base + kept * C, base + (row + wanted[i]) * C, base + (row + tokens.length) * C);
      }
      kept += rows;
      row += tokens.length;
    }
    return kept;
  }

  /** Stops the GEMM worker threads (weights and scratch live in the arena's memory, which goes with the arena). */
  dispose(): void {
    this.gemm.close();
  }

  /** Threads a prefill's GEMMs run on. */
  get threads(): number {
    return this.gemm.threads;
  }

  /** x rows = wte[token] + wpe[position], segment after segment. */
  private embed(mem: Float32Array, segments: readonly Segment[]): void {
    const C = this.config.nEmbd;
    let at = this.s.x >> 2;
    for (const { seq, tokens } of segments) {
      embedRows(this.wte, this.wpe, C, tokens, tokens.map((_, t) => seq.length + t), mem, at);
      at += tokens.length * C;
    }
  }

  /** ln_f -> tied head for rows [0, rows) of x: [rows * V]. */
  private lmHead(mem: Float32Array, rows: number): Float32Array {
    const { nEmbd: C, vocabSize: V, layerNormEpsilon: eps } = this.config;
    const s = this.s;
    const Vp = this.head.n;
    const out = new Float32Array(rows * V);
    for (let r0 = 0; r0 < rows; r0 += LOGIT_ROWS) {
      const count = Math.min(LOGIT_ROWS, rows - r0);
      this.rowK.normalize(s.x + r0 * C * 4, s.h, count, C, 1 / C, eps);
      this.gemm.gemm(s.h, C, this.head.w, this.head.b, s.logits, Vp, count, C, Vp);
      const base = s.logits >> 2;
      for (let i = 0; i < count; i++) out.set(mem.subarray(base + i * Vp, base + i * Vp + V), (r0 + i) * V);
    }
    return out;
  }
}
