/**
 * Shared pieces of the attention kernel's code generators: the generation context (parameters,
 * named scratch locals, exp constants), the memory constants (page and tile geometry) and the
 * softmax of one score row. See attention-kernel.ts for the memory layout.
 */
import { expF32x4, horizontal, type ExpConsts } from './simd-math.js';
import type { FunctionBuilder, Local } from './wasm-assembler.js';

/**
 * log2 of the keys per KV page. NOTE: 128 rather than 64: attention reads a layer's Kᵀ (then V)
 * page by page, each page's region one sequential run, and every run restarts the hardware
 * prefetcher; 128-key runs made decode attention of 32-dim heads ~10% faster (a decode step of a
 * batch of 32 at context 256: 6-9%) and a 512-row prefill ~4%, A/B in one process.
 */
export const PAGE_SHIFT = 7;
/** Keys per KV page. */
export const PAGE_POSITIONS = 1 << PAGE_SHIFT;
/**
 * Keys per Kᵀ tile. NOTE: a tile holds all hdP dims of 16 keys contiguously, so the score loop
 * streams through memory sequentially (decode attention at large batch is memory-bound).
 */
export const KEY_TILE = 16;

/** Shape and scratch addresses the kernel is specialised for. */
export interface AttentionShape {
  nHead: number;
  /** Head size padded to a multiple of 8. */
  hdP: number;
  /** Score row stride in floats (>= any key count rounded up to 16). */
  lmax: number;
  /** max(4, nHead) score rows of lmax floats. */
  scoresAddr: number;
  /** max(4, nHead) floats: 1 / softmax sum per score row. */
  invAddr: number;
}

/** Generation context: the function, its parameters and loop counters. */
export interface Ctx {
  f: FunctionBuilder;
  s: AttentionShape;
  q: Local; y: Local; pt: Local; layerOff: Local; T: Local; pos0: Local; h: Local; i: Local;
  /** Locals by name, shared across generators. */
  tmp: Map<string, Local>;
  exp: ExpConsts;
  /** Multiply-adds are relaxed-SIMD ones (FMA). */
  fma: boolean;
}

/** acc += x * y, where x() and y() push f32x4 values: relaxed_madd with fma, else mul + add. */
export function mulAdd(c: Ctx, acc: Local, x: () => void, y: () => void): void {
  if (c.fma) {
    x(); y(); c.f.get(acc).v('f32x4.relaxed_madd').set(acc);
  } else {
    c.f.get(acc); x(); y(); c.f.v('f32x4.mul').v('f32x4.add').set(acc);
  }
}

/** A named scratch local, created on first use. */
export function tmp(c: Ctx, name: string, type: 'i32' | 'f32' | 'v128'): Local {
  let l = c.tmp.get(name);
  if (l === undefined) {
    l = c.f.local(type);
    c.tmp.set(name, l);
  }
  return l;
}

/** Row geometry of softmaxRow: all addresses in bytes. */
export interface SoftmaxRow {
  /** Local holding the score row's address. */
  row: Local;
  /** Local holding the number of visible keys n. */
  n: Local;
  /** Local up to which entries [n, zeroTo) are zeroed afterwards (null: none). */
  zeroTo: Local | null;
  /** Pushes the address that receives 1 / sum. */
  inv: () => void;
}

/** In place: row[0, n) = exp(row - max); stores 1 / sum; row[n, round4(n)) is overwritten. */
export function softmaxRow(c: Ctx, o: SoftmaxRow): void {
  const { f } = c;
  const n4 = tmp(c, 'n4', 'i32');
  const k = tmp(c, 'k', 'i32');
  const vacc = tmp(c, 'vacc', 'v128');
  const m = tmp(c, 'm', 'v128');
  const e = tmp(c, 'e', 'v128');
  const at = (): void => { f.get(k).i32(2).i32op('shl').get(o.row).i32op('add'); };
  f.get(o.n).i32(3).i32op('add').i32(-4).i32op('and').set(n4);
  f.forLoop(k, () => f.get(o.n), () => f.get(n4), 1, () => { at(); f.f32(-Infinity).f32Store(); });
  f.f32x4Const(-Infinity).set(vacc);
  f.forLoop(k, () => f.i32(0), () => f.get(n4), 4, () => { f.get(vacc); at(); f.v128Load().v('f32x4.pmax').set(vacc); });
  horizontal(f, vacc, 'max');
  f.v('f32x4.splat').set(m);
  f.f32x4Const(0).set(vacc);
  f.forLoop(k, () => f.i32(0), () => f.get(n4), 4, () => {
    at();
    at();
    f.v128Load().get(m).v('f32x4.sub');
    expF32x4(f, c.exp, tmp(c, 'ex', 'v128'), tmp(c, 'efx', 'v128'));
    f.tee(e).v128Store();
    f.get(vacc).get(e).v('f32x4.add').set(vacc);
  });
  o.inv();
  f.f32(1);
  horizontal(f, vacc, 'add');
  f.f32op('div').f32Store();
  const zeroTo = o.zeroTo;
  if (zeroTo !== null) f.forLoop(k, () => f.get(o.n), () => f.get(zeroTo), 1, () => { at(); f.f32(0).f32Store(); });
}
