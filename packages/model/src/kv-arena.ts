/**
 * KvArena: the model-side KV cache of every attached sequence, in a WebAssembly memory the model
 * owns, and the attention over it (the SIMD kernel of wasm/attention-kernel.ts). Each slot (one
 * attached sequence) holds a list of pages of PAGE_POSITIONS positions; a page holds every
 * layer's Kᵀ in tiles of 16 keys [H, P / 16, hdP, 16] and V [H, P, hdP]. Rows are appended in place, pages are recycled on
 * release, so nothing is recopied per step and no sequence is padded to another's length.
 * The same kernel serves every tfjs backend (it needs only WebAssembly SIMD).
 * Invariants: a slot's pages cover every position written to it; K/V pad lanes (hd..hdP) stay 0;
 * views of the memory are re-taken after every possible growth.
 */
import { createAttentionKernel, KEY_TILE, layerBytes, PAGE_POSITIONS, PAGE_SHIFT, type AttendFn, type AttentionShape } from './wasm/attention-kernel.js';
import { ModelError } from './errors.js';
import { createKvWriteKernel, type WriteKvFn } from './wasm/kv-write-kernel.js';
import { wasmApi, WASM_PAGE_BYTES as WASM_PAGE, type WasmMemory } from './wasm/wasm-runtime.js';

const P = PAGE_POSITIONS;
/** NOTE: the kernels compare addresses as signed i32, so the arena stays below 2 GiB. */
const MAX_BYTES = 2 ** 31;
/** The memory grows in steps of this many bytes (64 wasm pages), so it ends at most this far above the KV it holds. */
export const GROW_STEP_BYTES = 4 * 2 ** 20;

/** Shape parameters of an arena. */
export interface ArenaShape {
  nLayer: number;
  nHead: number;
  headDim: number;
  /** Longest sequence (n_positions): sizes the per-call scratch. */
  maxPositions: number;
  /** Bytes reserved in the arena's memory for its owner (weights and activations of the wasm kernels); default 0. */
  reserveBytes?: number;
  /** A shared memory (kernels on other threads work in it too); default false. */
  shared?: boolean;
  /** Attention with relaxed-SIMD multiply-adds (the runtime must compile them); default false. */
  fma?: boolean;
  /** Threads that may run attention calls at once (helpers beyond this one get scratch of their own); default 1. */
  threads?: number;
}

/** One attention call of attendAt's form, for a helper thread's list (see prepareHelper). */
export interface AttendCall {
  layer: number;
  slot: number;
  /** Byte addresses of the [rows, H, hdP] queries (pre-scaled) and outputs. */
  q: number;
  y: number;
  rows: number;
  pos0: number;
}

/** Words per descriptor of a helper's call list: q, y, page table, layer offset, rows, pos0 (the AttendFn's arguments). */
export const ATTEND_CALL_WORDS = 6;

/** A helper thread's scratch: its kernel's shape (own scores and inv rows), its call list and page tables. */
interface HelperScratch { shape: AttentionShape; callsAddr: number; tablesAddr: number }

/** One attention call: T query rows of one sequence, read from `qkv` rows. */
export interface AttendRequest {
  layer: number;
  slot: number;
  /** Rows holding the queries in their first nEmbd columns. */
  qkv: Float32Array;
  /** Floats per row of `qkv`. */
  rowStride: number;
  /** Query rows (consecutive positions). */
  rows: number;
  /** Position of the first query row; keys [0, pos0 + rows) must already be written. */
  pos0: number;
  /** Multiplies q (1 / sqrt(headDim)). */
  scale: number;
  /** Receives rows x nEmbd floats at `outOffset`. */
  out: Float32Array;
  outOffset: number;
}

function roundUp(n: number, step: number): number {
  return Math.ceil(n / step) * step;
}

/** Paged KV storage for all attached sequences plus the attention kernel. */
export class KvArena {
  private readonly memory: WasmMemory;
  private readonly attendFn: AttendFn;
  private readonly writeKvFn: WriteKvFn;
  private readonly hdP: number;
  private readonly nEmbd: number;
  private readonly pageBytes: number;
  private readonly layerBytes: number;
  private readonly qAddr: number;
  private readonly yAddr: number;
  private readonly ptAddr: number;
  private readonly pagesAddr: number;
  /** Start of the owner's reserved bytes (16-byte aligned). */
  readonly reservedAddr: number;
  private readonly helpers: HelperScratch[] = [];
  private readonly lmax: number;
  /** Page addresses per slot; null = free slot. */
  private slotPages: Array<number[] | null> = [];
  private freePages: number[] = [];
  private pageCount = 0;
  private f32: Float32Array;
  private i32: Int32Array;

  constructor(private readonly shape: ArenaShape) {
    const { nHead: H, headDim: hd, nLayer, maxPositions } = shape;
    this.nEmbd = H * hd;
    // NOTE: heads are padded to 8 floats (two SIMD vectors) so the kernel has no lane remainders;
    // pad lanes are 0 in q and K, so scores are unchanged and padded outputs are dropped.
    this.hdP = roundUp(hd, 8);
    this.layerBytes = layerBytes(H, this.hdP);
    this.pageBytes = nLayer * this.layerBytes;
    const lmax = roundUp(maxPositions, P);
    this.lmax = lmax;
    const rowsBytes = maxPositions * H * this.hdP * 4;
    this.qAddr = 0;
    this.yAddr = rowsBytes;
    this.ptAddr = 2 * rowsBytes;
    const scoreRows = Math.max(4, H);
    const scoresAddr = roundUp(this.ptAddr + (lmax / P) * 4, 16);
    const invAddr = scoresAddr + scoreRows * lmax * 4;
    let end = roundUp(invAddr + scoreRows * 4, 64);
    // Each helper: scores, inv, then up to maxPositions calls (one row each at most) and their page tables.
    for (let t = 1; t < (shape.threads ?? 1); t++) {
      const helper = { nHead: H, hdP: this.hdP, lmax, scoresAddr: end, invAddr: end + scoreRows * lmax * 4 };
      const callsAddr = roundUp(helper.invAddr + scoreRows * 4, 64);
      const tablesAddr = roundUp(callsAddr + maxPositions * ATTEND_CALL_WORDS * 4, 64);
      this.helpers.push({ shape: helper, callsAddr, tablesAddr });
      end = roundUp(tablesAddr + maxPositions * (lmax / P) * 4, 64);
    }
    this.reservedAddr = end;
    this.pagesAddr = roundUp(this.reservedAddr + (shape.reserveBytes ?? 0), 64);
    if (this.pagesAddr > MAX_BYTES) throw new ModelError('KV_ARENA_FULL', `the model needs ${this.pagesAddr} bytes of WebAssembly memory before any KV page (limit ${MAX_BYTES})`);
    this.memory = new wasmApi.Memory({ initial: Math.ceil(this.pagesAddr / WASM_PAGE) + 1, maximum: MAX_BYTES / WASM_PAGE, shared: shape.shared ?? false });
    this.attendFn = createAttentionKernel({ nHead: H, hdP: this.hdP, lmax, scoresAddr, invAddr }, this.memory, shape.fma ?? false);
    this.writeKvFn = createKvWriteKernel(H, hd, this.hdP, this.memory);
    this.f32 = new Float32Array(this.memory.buffer);
    this.i32 = new Int32Array(this.memory.buffer);
  }

  /** The WebAssembly memory (its buffer changes when it grows: re-take views after ensureRows). */
  get wasmMemory(): WasmMemory {
    return this.memory;
  }

  /** Allocates `slot`'s pages up to `positions` now, so no later write in this call grows the memory. */
  ensureRows(slot: number, positions: number): void {
    this.ensurePages(slot, positions);
  }

  /**
   * Attention with q and y already in the arena's memory (byte addresses, [rows, H, hdP] each, q
   * pre-scaled): the zero-copy variant of attend for callers that compute in this memory.
   */
  attendAt(layer: number, slot: number, q: number, y: number, rows: number, pos0: number): void {
    this.i32.set(this.slotPages[slot] as number[], this.ptAddr >> 2);
    this.attendFn(q, y, this.ptAddr, layer * this.layerBytes, rows, pos0);
  }

  /** The attention kernel's shape for helper thread `t` (1 .. threads - 1): its own scratch rows. */
  helperShape(t: number): AttentionShape {
    return this.helpers[t - 1].shape;
  }

  /**
   * Writes `calls` as helper thread `t`'s call list (descriptors of ATTEND_CALL_WORDS words, each
   * with its sequence's page table) and returns the list's byte address; the helper runs them with
   * its own kernel (helperShape) while this thread runs others. At most maxPositions calls.
   */
  prepareHelper(t: number, calls: readonly AttendCall[]): number {
    const { callsAddr, tablesAddr } = this.helpers[t - 1];
    const tableWords = this.lmax / P;
    calls.forEach((c, i) => {
      const table = tablesAddr + i * tableWords * 4;
      this.i32.set(this.slotPages[c.slot] as number[], table >> 2);
      this.i32.set([c.q, c.y, table, c.layer * this.layerBytes, c.rows, c.pos0], (callsAddr >> 2) + i * ATTEND_CALL_WORDS);
    });
    return callsAddr;
  }

  /** Takes the lowest free slot. */
  allocSlot(): number {
    let slot = this.slotPages.indexOf(null);
    if (slot === -1) slot = this.slotPages.push(null) - 1;
    this.slotPages[slot] = [];
    return slot;
  }

  /** Returns a slot and its pages. */
  freeSlot(slot: number): void {
    const pages = this.slotPages[slot];
    if (pages === null || pages === undefined) return;
    this.freePages.push(...pages);
    this.slotPages[slot] = null;
  }

  /** Writes n rows ([n, nEmbd], heads concatenated) of layer's K and V at positions [start, start + n). */
  writeRows(layer: number, slot: number, start: number, k: Float32Array, v: Float32Array): void {
    const { nHead: H, headDim: hd } = this.shape;
    const C = this.nEmbd;
    const n = k.length / C;
    const pages = this.ensurePages(slot, start + n);
    if (k.buffer === this.memory.buffer && v.buffer === this.memory.buffer) {
      // Rows already in this memory (the wasm forward pass): the kernel writes them, no JS loop.
      this.i32.set(pages, this.ptAddr >> 2);
      this.writeKvFn(k.byteOffset, v.byteOffset, this.ptAddr, layer * this.layerBytes, start, n);
      return;
    }
    const f32 = this.f32;
    const hdP = this.hdP;
    const vOff = H * hdP * P;
    for (let t = 0; t < n; t++) {
      const pos = start + t;
      const base = (pages[pos >> PAGE_SHIFT] + layer * this.layerBytes) >> 2;
      const col = pos & (P - 1);
      for (let h = 0; h < H; h++) {
        const src = t * C + h * hd;
        // Kᵀ per head: tiles [P / KEY_TILE, hdP, KEY_TILE]
        const kBase = base + h * hdP * P + (col >> 4) * hdP * KEY_TILE + (col & (KEY_TILE - 1));
        for (let d = 0; d < hd; d++) f32[kBase + d * KEY_TILE] = k[src + d];
        f32.set(v.subarray(src, src + hd), base + vOff + (h * P + col) * hdP);
      }
    }
  }

  /** Causal attention of `rows` query rows of one sequence over its cached keys (see AttendRequest). */
  attend(req: AttendRequest): void {
    const { nHead: H, headDim: hd } = this.shape;
    const hdP = this.hdP;
    const pages = this.slotPages[req.slot] as number[];
    const f32 = this.f32;
    for (let t = 0; t < req.rows; t++) {
      for (let h = 0; h < H; h++) {
        const src = t * req.rowStride + h * hd;
        const dst = (this.qAddr >> 2) + (t * H + h) * hdP;
        for (let d = 0; d < hd; d++) f32[dst + d] = req.qkv[src + d] * req.scale;
      }
    }
    this.i32.set(pages, this.ptAddr >> 2);
    this.attendFn(this.qAddr, this.yAddr, this.ptAddr, req.layer * this.layerBytes, req.rows, req.pos0);
    const y = this.yAddr >> 2;
    if (hdP === hd) {
      req.out.set(f32.subarray(y, y + req.rows * this.nEmbd), req.outOffset);
      return;
    }
    for (let t = 0; t < req.rows; t++) {
      for (let h = 0; h < H; h++) {
        const src = y + (t * H + h) * hdP;
        req.out.set(f32.subarray(src, src + hd), req.outOffset + t * this.nEmbd + h * hd);
      }
    }
  }

  /** Frees all pages (the memory itself is garbage-collected with the arena). */
  dispose(): void {
    this.slotPages = [];
    this.freePages = [];
  }

  private full(): ModelError {
    const live = this.slotPages.filter((p) => p !== null).length;
    return new ModelError('KV_ARENA_FULL', `KV arena is full: ${live} attached sequences hold ${this.pageCount - this.freePages.length} pages of ${this.pageBytes} bytes (limit ${MAX_BYTES} bytes of WebAssembly memory); release sequences`);
  }

  private ensurePages(slot: number, positions: number): number[] {
    const pages = this.slotPages[slot] as number[];
    while (pages.length * P < positions) pages.push(this.newPage());
    return pages;
  }

  private newPage(): number {
    const reused = this.freePages.pop();
    if (reused !== undefined) return reused;
    const addr = this.pagesAddr + this.pageCount * this.pageBytes;
    const need = addr + this.pageBytes - this.memory.buffer.byteLength;
    if (addr + this.pageBytes > MAX_BYTES) throw this.full();
    if (need > 0) {
      // NOTE: grown by what is needed, in GROW_STEP_BYTES steps, not geometrically: a WebAssembly
      // memory never shrinks, so an overshoot (a quarter of the most KV ever attached, before) is
      // held for good. Growth is in place (V8 reserves a wasm32 memory's address range up front):
      // a step costs re-taking the views, not a copy.
      const grow = Math.ceil(need / GROW_STEP_BYTES) * (GROW_STEP_BYTES / WASM_PAGE);
      const more = Math.min(grow, MAX_BYTES / WASM_PAGE - this.memory.buffer.byteLength / WASM_PAGE);
      try {
        this.memory.grow(more);
      } catch {
        throw this.full();
      }
      this.f32 = new Float32Array(this.memory.buffer);
      this.i32 = new Int32Array(this.memory.buffer);
    }
    this.pageCount++;
    return addr;
  }
}
