/**
 * The KV append kernel in WebAssembly, generated for one head shape: writes n new K and V rows of
 * one layer ([n, H * hd] each, heads concatenated, already in the memory: where the wasm forward
 * pass computed them) into a sequence's pages, in the attention kernel's layout
 * (attention-kernel.ts): Kᵀ tiles [H, P / 16, hdP, 16] (a transpose: one scalar store per value)
 * and V rows [H, P, hdP]. It replaces a JavaScript loop of one typed-array store per K value.
 * Invariants: the pages of positions [start, start + n) exist (their addresses in pt); pad lanes
 * hd..hdP are not written (they stay 0).
 */
import { KEY_TILE, PAGE_POSITIONS as P, PAGE_SHIFT } from './attention-common.js';
import { assembleModule, FunctionBuilder } from './wasm-assembler.js';
import { isShared, wasmApi, type WasmMemory } from './wasm-runtime.js';

/** writeKv(k, v, pt, layerOff, start, n): byte addresses of the rows and the page table; counts. */
export type WriteKvFn = (k: number, v: number, pt: number, layerOff: number, start: number, n: number) => void;

/** Compiles the kernel for heads of `hd` floats padded to `hdP`, against `memory`. */
export function createKvWriteKernel(nHead: number, hd: number, hdP: number, memory: WasmMemory): WriteKvFn {
  const bytes = assembleModule([{ name: 'writeKv', fn: build(nHead, hd, hdP) }], isShared(memory));
  const { exports } = new wasmApi.Instance(new wasmApi.Module(bytes), { env: { memory } });
  return exports['writeKv'] as WriteKvFn;
}

function build(H: number, hd: number, hdP: number): FunctionBuilder {
  const f = new FunctionBuilder(['i32', 'i32', 'i32', 'i32', 'i32', 'i32']);
  const [k, v, pt, layerOff, start, n] = [0, 1, 2, 3, 4, 5].map((i) => f.param(i));
  const [t, pos, base, h, src, kd, vd] = Array.from({ length: 7 }, () => f.local('i32'));
  const C = H * hd;
  f.forLoop(t, () => f.i32(0), () => f.get(n), 1, () => {
    // base = pt[pos / P] + layerOff: this layer's part of the position's page
    f.get(start).get(t).i32op('add').set(pos);
    f.get(pos).i32(PAGE_SHIFT).i32op('shr_u').i32(2).i32op('shl').get(pt).i32op('add').i32Load().get(layerOff).i32op('add').set(base);
    f.forLoop(h, () => f.i32(0), () => f.i32(H), 1, () => {
      // src = (t * C + h * hd) * 4, from k or v
      f.get(t).i32(C).i32op('mul').get(h).i32(hd).i32op('mul').i32op('add').i32(2).i32op('shl').set(src);
      // kd = base + h * hdP * P * 4 + (pos % P / 16) * hdP * 64 + (pos % 16) * 4: lane of dim 0
      f.get(base).get(h).i32(hdP * P * 4).i32op('mul').i32op('add');
      f.get(pos).i32(P - 1).i32op('and').i32(4).i32op('shr_u').i32(hdP * KEY_TILE * 4).i32op('mul').i32op('add');
      f.get(pos).i32(KEY_TILE - 1).i32op('and').i32(2).i32op('shl').i32op('add').set(kd);
      // vd = base + Kᵀ bytes + (h * P + pos % P) * hdP * 4
      f.get(h).i32(P).i32op('mul').get(pos).i32(P - 1).i32op('and').i32op('add').i32(hdP * 4).i32op('mul');
      f.get(base).i32op('add').i32(H * hdP * P * 4).i32op('add').set(vd);
      f.get(src).get(k).i32op('add').set(src);
      for (let d = 0; d < hd; d++) f.get(kd).get(src).f32Load(4 * d).f32Store(4 * KEY_TILE * d);
      f.get(src).get(k).i32op('sub').get(v).i32op('add').set(src);
      const vectors = hd - (hd % 4);
      for (let d = 0; d < vectors; d += 4) f.get(vd).get(src).v128Load(4 * d).v128Store(4 * d);
      for (let d = vectors; d < hd; d++) f.get(vd).get(src).f32Load(4 * d).f32Store(4 * d);
    });
  });
  return f;
}
