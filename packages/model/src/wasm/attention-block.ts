/**
 * Attention for a block of R query rows of one head (the prefill path): scores of the R rows
 * against the keys visible to the block's last row, each row's softmax, then ·V. Blocking rows
 * reuses each loaded key and value vector R times. See attention-kernel.ts for the layout.
 */
import { KEY_TILE, mulAdd, PAGE_POSITIONS as P, PAGE_SHIFT, softmaxRow, tmp, type Ctx } from './attention-common.js';
import type { Local } from './wasm-assembler.js';

/** R query rows starting at row i, head h. KV = key vectors per step (4 * KV divides KEY_TILE). */
export function rowBlock(c: Ctx, R: number, KV: number): void {
  const { f, s } = c;
  const nMax = tmp(c, 'nMax', 'i32');
  const rowOff = tmp(c, 'rowOff', 'i32');
  const n = tmp(c, 'n', 'i32');
  const row = tmp(c, 'srow', 'i32');
  // nMax: keys visible to the block's last row; rowOff: byte offset of (row i, head h) in q / y.
  f.get(c.pos0).get(c.i).i32op('add').i32(R).i32op('add').set(nMax);
  f.get(c.i).i32(s.nHead).i32op('mul').get(c.h).i32op('add').i32(s.hdP * 4).i32op('mul').set(rowOff);
  scores(c, R, KV, nMax, rowOff);
  for (let r = 0; r < R; r++) {
    // Row r sees nMax - (R - 1 - r) keys; its entries up to nMax are zeroed for the shared ·V loop.
    f.get(nMax).i32(R - 1 - r).i32op('sub').set(n);
    f.i32(s.scoresAddr + r * s.lmax * 4).set(row);
    softmaxRow(c, { row, n, zeroTo: nMax, inv: () => f.i32(s.invAddr + 4 * r) });
  }
  weightedValues(c, R, 2, nMax, rowOff);
}

function scores(c: Ctx, R: number, KV: number, nMax: Local, rowOff: Local): void {
  const { f, s } = c;
  const G = 4 * KV;
  const j = tmp(c, 'j', 'i32');
  const kp = tmp(c, 'kp', 'i32');
  const qp = tmp(c, 'qp', 'i32');
  const qs = tmp(c, 'qs', 'v128');
  const kd = tmp(c, 'kd', 'i32');
  const qd = tmp(c, 'qd', 'i32');
  const kEnd = tmp(c, 'kEnd', 'i32');
  const kv = Array.from({ length: KV }, (_, k) => tmp(c, `kv${k}`, 'v128'));
  const acc = Array.from({ length: R * KV }, (_, k) => tmp(c, `acc${k}`, 'v128'));
  f.get(c.q).get(rowOff).i32op('add').set(qp);
  const end = (): void => { f.get(nMax).i32(G - 1).i32op('add').i32(-G).i32op('and'); };
  f.forLoop(j, () => f.i32(0), end, G, () => {
    // kp = pt[j / P] + layerOff + h * hdP * P * 4 + tile (j % P / 16) * hdP * 64 + (j % 16) * 4
    f.get(c.pt).get(j).i32(PAGE_SHIFT).i32op('shr_u').i32(2).i32op('shl').i32op('add').i32Load();
    f.get(c.layerOff).i32op('add').get(c.h).i32(s.hdP * P * 4).i32op('mul').i32op('add');
    f.get(j).i32(P - 1).i32op('and').i32(4).i32op('shr_u').i32(s.hdP * KEY_TILE * 4).i32op('mul').i32op('add');
    f.get(j).i32(KEY_TILE - 1).i32op('and').i32(2).i32op('shl').i32op('add').set(kp);
    for (const a of acc) f.f32x4Const(0).set(a);
    // NOTE: a real loop over the head's dims (kd walks Kᵀ rows, qd the queries' dim d): unrolled
    // over d, V8 hoisted the loads of many dims at once and spilled the accumulators.
    f.get(kp).i32(s.hdP * KEY_TILE * 4).i32op('add').set(kEnd);
    f.get(qp).set(qd);
    f.forLoop(kd, () => f.get(kp), () => f.get(kEnd), KEY_TILE * 4, () => {
      for (let k = 0; k < KV; k++) f.get(kd).v128Load(16 * k).set(kv[k]);
      for (let r = 0; r < R; r++) {
        f.get(qd).load32Splat(r * s.nHead * s.hdP * 4).set(qs);
        for (let k = 0; k < KV; k++) mulAdd(c, acc[r * KV + k], () => f.get(qs), () => f.get(kv[k]));
      }
      f.get(qd).i32(4).i32op('add').set(qd);
    });
    for (let r = 0; r < R; r++) {
      for (let k = 0; k < KV; k++) {
        f.get(j).i32(2).i32op('shl').i32(s.scoresAddr).i32op('add').get(acc[r * KV + k]).v128Store((r * s.lmax + 4 * k) * 4);
      }
    }
  });
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
    const pages = (): void => { f.get(nMax).i32(P - 1).i32op('add').i32(PAGE_SHIFT).i32op('shr_u'); };
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
          for (let k = 0; k < DV; k++) mulAdd(c, acc[DV * r + k], () => f.get(p), () => f.get(vv[k]));
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
