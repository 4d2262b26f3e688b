/**
 * The causal-attention kernel in WebAssembly SIMD, generated for one model shape. One call attends
 * T consecutive queries of ONE sequence (positions pos0 .. pos0 + T - 1) to that sequence's cached
 * keys [0, position]: scores q·k (q pre-scaled), softmax, ·V. Prefill is T = chunk length; a decode
 * step calls it once per sequence with T = 1, so a sequence's result never depends on its batch.
 *
 * Memory (byte addresses in the imported memory, laid out by KvArena):
 *   q, y   [T, H, hdP] float32 (hdP = head size rounded up to 8; pad lanes of q are 0)
 *   pt     i32 byte address of each KV page of the sequence (page g holds positions g*P ..)
 *   page   per layer (at layerOff): Kᵀ tiles [H, P / 16, hdP, 16] then V [H, P, hdP]
 *   scores [max(4, H), lmax] float32 scratch; inv [max(4, H)] float32 scratch
 * Invariants: positions < pos0 + T are written in the pages; K pad rows are 0. Scores of keys past
 * a row's position are computed on whatever the page holds and never read.
 */
import { KEY_TILE, PAGE_POSITIONS, PAGE_SHIFT, tmp, type AttentionShape, type Ctx } from './attention-common.js';
import { rowBlock } from './attention-block.js';
import { singleRow } from './attention-row.js';
import { expConsts } from './simd-math.js';
import { assembleModule, FunctionBuilder } from './wasm-assembler.js';
import { isShared, wasmApi, type WasmMemory } from './wasm-runtime.js';

export { KEY_TILE, PAGE_POSITIONS, PAGE_SHIFT, type AttentionShape };

/** Signature of the exported kernel (all byte addresses / counts). */
export type AttendFn = (q: number, y: number, pt: number, layerOff: number, T: number, pos0: number) => void;

/** Compiles the kernel module against `memory`; `fma`: relaxed-SIMD multiply-adds (needs runtime support). */
export function createAttentionKernel(shape: AttentionShape, memory: WasmMemory, fma = false): AttendFn {
  const bytes = assembleModule([{ name: 'attend', fn: buildAttend(shape, fma) }], isShared(memory));
  const instance = new wasmApi.Instance(new wasmApi.Module(bytes), { env: { memory } });
  return instance.exports['attend'] as AttendFn;
}

/** The page's byte size for one layer (Kᵀ and V). */
export function layerBytes(nHead: number, hdP: number): number {
  return 2 * nHead * hdP * PAGE_POSITIONS * 4;
}

function buildAttend(s: AttentionShape, fma: boolean): FunctionBuilder {
  const f = new FunctionBuilder(['i32', 'i32', 'i32', 'i32', 'i32', 'i32']);
  const [q, y, pt, layerOff, T, pos0] = [0, 1, 2, 3, 4, 5].map((i) => f.param(i));
  const h = f.local('i32');
  const i = f.local('i32');
  const c: Ctx = { f, s, q, y, pt, layerOff, T, pos0, h, i, tmp: new Map(), exp: expConsts(f), fma };
  const blocked = tmp(c, 'blocked', 'i32');
  // NOTE: blocks of 4 query rows reuse each loaded key vector 4 times (prefill, head by head);
  // single rows (decode, and a prefill's last T % 4 rows) go page-major over all heads.
  f.get(T).i32(-4).i32op('and').set(blocked);
  f.forLoop(h, () => f.i32(0), () => f.i32(s.nHead), 1, () => {
    f.forLoop(i, () => f.i32(0), () => f.get(blocked), 4, () => rowBlock(c, 4, 2));
  });
  f.forLoop(i, () => f.get(blocked), () => f.get(T), 1, () => singleRow(c));
  return f;
}
