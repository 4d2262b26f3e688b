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
 *   scores [4, lmax] float32 scratch; inv [4] float32 scratch
 * Invariants: positions < pos0 + T are written in the pages; K pad rows are 0. Scores of keys past
 * a row's position are computed on whatever the page holds and never read.
 */
import { assembleModule, FunctionBuilder, type Local } from './wasm-assembler.js';
import { expConsts, expF32x4, horizontal, type ExpConsts } from './simd-math.js';
import { wasmApi, type WasmMemory } from './wasm-runtime.js';

/** Keys per KV page. */
export const PAGE_POSITIONS = 64;

/** Shape and scratch addresses the kernel is specialised for. */
export interface AttentionShape {
  nHead: number;
  /** Head size padded to a multiple of 8. */
  hdP: number;
  /** Score row stride in floats (>= any key count rounded up to 16). */
  lmax: number;
  scoresAddr: number;
  invAddr: number;
}

/** Signature of the exported kernel (all byte addresses / counts). */
export type AttendFn = (q: number, y: number, pt: number, layerOff: number, T: number, pos0: number) => void;

/**
 * Keys per Kᵀ tile. NOTE: a tile holds all hdP dims of 16 keys contiguously, so the score loop
 * streams through memory sequentially (decode attention at large batch is memory-bound).
 */
export const KEY_TILE = 16;

const P = PAGE_POSITIONS;

/** Compiles the kernel module against `memory`. */
export function createAttentionKernel(shape: AttentionShape, memory: WasmMemory): AttendFn {
  const bytes = assembleModule([{ name: 'attend', fn: buildAttend(shape) }]);
  const instance = new wasmApi.Instance(new wasmApi.Module(bytes), { env: { memory } });
  return instance.exports['attend'] as AttendFn;
}

/** The page's byte size for one layer (Kᵀ and V). */
export function layerBytes(nHead: number, hdP: number): number {
  return 2 * nHead * hdP * P * 4;
}

function buildAttend(s: AttentionShape): FunctionBuilder {
  const f = new FunctionBuilder(['i32', 'i32', 'i32', 'i32', 'i32', 'i32']);
  const [q, y, pt, layerOff, T, pos0] = [0, 1, 2, 3, 4, 5].map((i) => f.param(i));
  const h = f.local('i32');
  const i = f.local('i32');
  const ctx: Ctx = { f, s, q, y, pt, layerOff, T, pos0, h, i, tmp: new Map(), exp: expConsts(f) };
  f.forLoop(h, () => f.i32(0), () => f.i32(s.nHead), 1, () => {
    // NOTE: blocks of 4 query rows reuse each loaded key vector 4 times (prefill); the 1-row
    // variant unrolls over 16 keys instead (decode, and a prefill's last rows).
    f.forLoop(i, () => f.i32(0), () => f.get(T).i32(3).i32op('sub'), 4, () => rowBlock(ctx, 4, 2));
    f.forLoop(i, () => f.get(i), () => f.get(T), 1, () => rowBlock(ctx, 1, 4));
  });
  return f;
}

interface Ctx {
  f: FunctionBuilder;
  s: AttentionShape;
  q: Local; y: Local; pt: Local; layerOff: Local; T: Local; pos0: Local; h: Local; i: Local;
  /** Locals by name, shared across row-block variants. */
  tmp: Map<string, Local>;
  exp: ExpConsts;
}

function tmp(c: Ctx, name: string, type: 'i32' | 'f32' | 'v128'): Local {
  let l = c.tmp.get(name);
  if (l === undefined) {
    l = c.f.local(type);
    c.tmp.set(name, l);
  }
  return l;
}

/** R query rows starting at row i: scores, softmax, ·V for head h. KV = key vectors per step. */
function rowBlock(c: Ctx, R: number, KV: number): void {
  const { f, s } = c;
  const nMax = tmp(c, 'nMax', 'i32');
  const rowOff = tmp(c, 'rowOff', 'i32');
  // nMax: keys visible to the block's last row; rowOff: byte offset of (row i, head h) in q / y.
  f.get(c.pos0).get(c.i).i32op('add').i32(R).i32op('add').set(nMax);
  f.get(c.i).i32(s.nHead).i32op('mul').get(c.h).i32op('add').i32(s.hdP * 4).i32op('mul').set(rowOff);
  scores(c, R, KV, nMax, rowOff);
  for (let r = 0; r < R; r++) softmaxRow(c, r, nMax, R - 1 - r);
  // NOTE: R * DV accumulators stay within the 16 SIMD registers; one row sweeps up to 32 dims per pass.
  weightedValues(c, R, R === 1 ? [8, 4, 2].find((dv) => s.hdP % (4 * dv) === 0) ?? 2 : 2, nMax, rowOff);
}

function scores(c: Ctx, R: number, KV: number, nMax: Local, rowOff: Local): void {
  const { f, s } = c;
  const G = 4 * KV;
  const j = tmp(c, 'j', 'i32');
  const kp = tmp(c, 'kp', 'i32');
  const qp = tmp(c, 'qp', 'i32');
  const qs = tmp(c, 'qs', 'v128');
  const kv = Array.from({ length: KV }, (_, k) => tmp(c, `kv${k}`, 'v128'));
  const acc = Array.from({ length: R * KV }, (_, k) => tmp(c, `acc${k}`, 'v128'));
  f.get(c.q).get(rowOff).i32op('add').set(qp);
  const end = (): void => { f.get(nMax).i32(G - 1).i32op('add').i32(-G).i32op('and'); };
  f.forLoop(j, () => f.i32(0), end, G, () => {
    // kp = pt[j / P] + layerOff + h * hdP * P * 4 + tile (j % P / 16) * hdP * 64 + (j % 16) * 4
    f.get(c.pt).get(j).i32(6).i32op('shr_u').i32(2).i32op('shl').i32op('add').i32Load();
    f.get(c.layerOff).i32op('add').get(c.h).i32(s.hdP * P * 4).i32op('mul').i32op('add');
    f.get(j).i32(P - 1).i32op('and').i32(4).i32op('shr_u').i32(s.hdP * KEY_TILE * 4).i32op('mul').i32op('add');
    f.get(j).i32(KEY_TILE - 1).i32op('and').i32(2).i32op('shl').i32op('add').set(kp);
    for (const a of acc) f.f32x4Const(0).set(a);
    for (let d = 0; d < s.hdP; d++) {
      for (let k = 0; k < KV; k++) f.get(kp).v128Load((d * KEY_TILE + 4 * k) * 4).set(kv[k]);
      for (let r = 0; r < R; r++) {
        f.get(qp).load32Splat((r * s.nHead * s.hdP + d) * 4).set(qs);
        for (let k = 0; k < KV; k++) f.get(acc[r * KV + k]).get(qs).get(kv[k]).v('f32x4.mul').v('f32x4.add').set(acc[r * KV + k]);
      }
    }
    for (let r = 0; r < R; r++) {
      for (let k = 0; k < KV; k++) {
        f.get(j).i32(2).i32op('shl').i32(s.scoresAddr).i32op('add').get(acc[r * KV + k]).v128Store((r * s.lmax + 4 * k) * 4);
      }
    }
  });
}

/** Softmax of row r over its n = nMax - back visible keys; zeroes the row's entries [n, nMax). */
function softmaxRow(c: Ctx, r: number, nMax: Local, back: number): void {
  const { f, s } = c;
  const n = tmp(c, 'n', 'i32');
  const n4 = tmp(c, 'n4', 'i32');
  const k = tmp(c, 'k', 'i32');
  const vacc = tmp(c, 'vacc', 'v128');
  const m = tmp(c, 'm', 'v128');
  const row = s.scoresAddr + r * s.lmax * 4;
  const at = (): void => { f.get(k).i32(2).i32op('shl').i32(row).i32op('add'); };
  f.get(nMax).i32(back).i32op('sub').set(n);
  f.get(n).i32(3).i32op('add').i32(-4).i32op('and').set(n4);
  f.forLoop(k, () => f.get(n), () => f.get(n4), 1, () => { at(); f.f32(-Infinity).f32Store(); });
  f.f32x4Const(-Infinity).set(vacc);
  f.forLoop(k, () => f.i32(0), () => f.get(n4), 4, () => { f.get(vacc); at(); f.v128Load().v('f32x4.max').set(vacc); });
  horizontal(f, vacc, 'max');
  f.v('f32x4.splat').set(m);
  f.f32x4Const(0).set(vacc);
  f.forLoop(k, () => f.i32(0), () => f.get(n4), 4, () => {
    at();
    at();
    f.v128Load().get(m).v('f32x4.sub');
    expF32x4(f, c.exp, tmp(c, 'ex', 'v128'), tmp(c, 'efx', 'v128'));
    f.tee(tmp(c, 'e', 'v128')).v128Store();
    f.get(vacc).get(tmp(c, 'e', 'v128')).v('f32x4.add').set(vacc);
  });
  f.i32(s.invAddr).f32(1);
  horizontal(f, vacc, 'add');
  f.f32op('div').f32Store(r * 4);
  f.forLoop(k, () => f.get(n), () => f.get(nMax), 1, () => { at(); f.f32(0).f32Store(); });
}

/** y rows = softmax rows · V (DV vectors of dims per pass), scaled by each row's 1 / sum. */
function weightedValues(c: Ctx, R: number, DV: number, nMax: Local, rowOff: Local): void {
  const { f, s } = c;
  const g = tmp(c, 'g', 'i32');
  const vp = tmp(c, 'vp', 'i32');
  const vEnd = tmp(c, 'vEnd', 'i32');
  const sp = tmp(c, 'sp', 'i32');
  const cnt = tmp(c, 'cnt', 'i32');
  const vv = Array.from({ length: DV }, (_, k) => tmp(c, `kv${k}`, 'v128'));
  const p = tmp(c, 'qs', 'v128');
  const acc = Array.from({ length: DV * R }, (_, k) => tmp(c, `acc${k}`, 'v128'));
  const rowBytes = s.hdP * 4;
  const kBytes = s.nHead * s.hdP * P * 4;
  for (let dc = 0; dc < s.hdP; dc += 4 * DV) {
    for (const a of acc) f.f32x4Const(0).set(a);
    const pages = (): void => { f.get(nMax).i32(P - 1).i32op('add').i32(6).i32op('shr_u'); };
    f.forLoop(g, () => f.i32(0), pages, 1, () => {
      // vp = pt[g] + layerOff + Kᵀ bytes + h * P * hdP * 4 + dc * 4; keys in page: min(P, nMax - g*P)
      f.get(c.pt).get(g).i32(2).i32op('shl').i32op('add').i32Load().get(c.layerOff).i32op('add');
      f.i32(kBytes + dc * 4).i32op('add').get(c.h).i32(P * rowBytes).i32op('mul').i32op('add').set(vp);
      f.get(nMax).get(g).i32(P).i32op('mul').i32op('sub').set(cnt);
      f.i32(P).get(cnt).get(cnt).i32(P).i32op('gt_s').select().set(cnt);
      f.get(vp).get(cnt).i32(rowBytes).i32op('mul').i32op('add').set(vEnd);
      f.get(g).i32(P * 4).i32op('mul').i32(s.scoresAddr).i32op('add').set(sp);
      f.forLoop(vp, () => f.get(vp), () => f.get(vEnd), rowBytes, () => {
        for (let k = 0; k < DV; k++) f.get(vp).v128Load(16 * k).set(vv[k]);
        for (let r = 0; r < R; r++) {
          f.get(sp).load32Splat(r * s.lmax * 4).set(p);
          for (let k = 0; k < DV; k++) f.get(acc[DV * r + k]).get(p).get(vv[k]).v('f32x4.mul').v('f32x4.add').set(acc[DV * r + k]);
        }
        f.get(sp).i32(4).i32op('add').set(sp);
      });
    });
    for (let r = 0; r < R; r++) {
      f.i32(s.invAddr).load32Splat(r * 4).set(p);
      for (let k = 0; k < DV; k++) {
        f.get(c.y).get(rowOff).i32op('add').get(acc[DV * r + k]).get(p).v('f32x4.mul');
        f.v128Store((r * s.nHead * s.hdP + dc + 4 * k) * 4);
      }
    }
  }
}
