/**
 * Attention for ONE query row over all heads (the decode path, and a prefill's last T % 4 rows),
 * page-major: scores for every head of page 0, then page 1, ...; softmax per head; then ·V page by
 * page, accumulating in the output row. NOTE: walking a page's Kᵀ (then V) region for all heads
 * at once reads it as one contiguous stream; head-major order broke it into 8 KB runs that the
 * hardware prefetcher kept restarting on, which made batch-32 decode attention ~1.5x slower.
 */
import { KEY_TILE, mulAdd, PAGE_POSITIONS as P, PAGE_SHIFT, softmaxRow, tmp, type Ctx } from './attention-common.js';
import type { Local } from './wasm-assembler.js';

/** Head dims per iteration of the score loop (hdP is a multiple of 8). */
const DIMS_PER_STEP = 2;

/** One query row i (position pos0 + i) of every head. */
export function singleRow(c: Ctx): void {
  const { f, s } = c;
  const H = s.nHead;
  const rowBytes = s.hdP * 4;
  const n = tmp(c, 'n', 'i32');
  const pages = tmp(c, 'pages', 'i32');
  const qrow = tmp(c, 'qrow', 'i32');
  const yrow = tmp(c, 'yrow', 'i32');
  f.get(c.pos0).get(c.i).i32op('add').i32(1).i32op('add').set(n);
  f.get(n).i32(P - 1).i32op('add').i32(PAGE_SHIFT).i32op('shr_u').set(pages);
  f.get(c.i).i32(H * rowBytes).i32op('mul').tee(qrow).get(c.y).i32op('add').set(yrow);
  f.get(qrow).get(c.q).i32op('add').set(qrow);
  pageMajorScores(c, n, pages, qrow);
  const row = tmp(c, 'srow', 'i32');
  f.forLoop(c.h, () => f.i32(0), () => f.i32(H), 1, () => {
    f.get(c.h).i32(s.lmax * 4).i32op('mul').i32(s.scoresAddr).i32op('add').set(row);
    softmaxRow(c, { row, n, zeroTo: null, inv: () => { f.get(c.h).i32(2).i32op('shl').i32(s.invAddr).i32op('add'); } });
  });
  pageMajorValues(c, n, pages, yrow);
}

/** min(P, count - g * P) into `out` (all locals). */
function keysInPage(c: Ctx, count: Local, g: Local, out: Local): void {
  const { f } = c;
  f.get(count).get(g).i32(P).i32op('mul').i32op('sub').set(out);
  f.i32(P).get(out).get(out).i32(P).i32op('gt_s').select().set(out);
}

function pageMajorScores(c: Ctx, n: Local, pages: Local, qrow: Local): void {
  const { f, s } = c;
  const g = tmp(c, 'g', 'i32');
  const nS = tmp(c, 'nS', 'i32');
  const cnt = tmp(c, 'cnt', 'i32');
  const kp = tmp(c, 'kp', 'i32');
  const kEnd = tmp(c, 'kEnd', 'i32');
  const sp = tmp(c, 'sp', 'i32');
  const qp = tmp(c, 'qp', 'i32');
  const qs = tmp(c, 'qs', 'v128');
  const kd = tmp(c, 'kd', 'i32');
  const qd = tmp(c, 'qd', 'i32');
  const kdEnd = tmp(c, 'kdEnd', 'i32');
  const acc = [0, 1, 2, 3].map((k) => tmp(c, `acc${k}`, 'v128'));
  const tileBytes = s.hdP * KEY_TILE * 4;
  f.get(n).i32(KEY_TILE - 1).i32op('add').i32(-KEY_TILE).i32op('and').set(nS);
  f.forLoop(g, () => f.i32(0), () => f.get(pages), 1, () => {
    keysInPage(c, nS, g, cnt);
    f.forLoop(c.h, () => f.i32(0), () => f.i32(s.nHead), 1, () => {
      // kp: page g's Kᵀ tiles of head h; sp: scores of head h from key g * P; qp: q of head h.
      f.get(c.pt).get(g).i32(2).i32op('shl').i32op('add').i32Load().get(c.layerOff).i32op('add');
      f.get(c.h).i32(s.hdP * P * 4).i32op('mul').i32op('add').set(kp);
      f.get(kp).get(cnt).i32(4).i32op('shr_u').i32(tileBytes).i32op('mul').i32op('add').set(kEnd);
      f.get(c.h).i32(s.lmax).i32op('mul').get(g).i32(P).i32op('mul').i32op('add').i32(2).i32op('shl').i32(s.scoresAddr).i32op('add').set(sp);
      f.get(c.h).i32(s.hdP * 4).i32op('mul').get(qrow).i32op('add').set(qp);
      f.forLoop(kp, () => f.get(kp), () => f.get(kEnd), tileBytes, () => {
        for (const a of acc) f.f32x4Const(0).set(a);
        // NOTE: a loop over the tile's dims, DIMS_PER_STEP per iteration, not unrolled over all
        // hdP: unrolled, V8 hoisted a whole tile's K loads and spilled them to the stack (a store
        // and a reload per vector), which made 64-dim heads ~20% slower over a decode batch's K.
        f.get(qp).set(qd);
        f.get(kp).i32(tileBytes).i32op('add').set(kdEnd);
        f.forLoop(kd, () => f.get(kp), () => f.get(kdEnd), DIMS_PER_STEP * KEY_TILE * 4, () => {
          for (let u = 0; u < DIMS_PER_STEP; u++) {
            f.get(qd).load32Splat(u * 4).set(qs);
            for (let k = 0; k < 4; k++) mulAdd(c, acc[k], () => f.get(qs), () => f.get(kd).v128Load((u * KEY_TILE + 4 * k) * 4));
          }
          f.get(qd).i32(DIMS_PER_STEP * 4).i32op('add').set(qd);
        });
        for (let k = 0; k < 4; k++) f.get(sp).get(acc[k]).v128Store(16 * k);
        f.get(sp).i32(KEY_TILE * 4).i32op('add').set(sp);
      });
    });
  });
}

function pageMajorValues(c: Ctx, n: Local, pages: Local, yrow: Local): void {
  const { f, s } = c;
  const g = tmp(c, 'g', 'i32');
  const cnt = tmp(c, 'cnt', 'i32');
  const vp = tmp(c, 'vp', 'i32');
  const vEnd = tmp(c, 'vEnd', 'i32');
  const sp = tmp(c, 'sp', 'i32');
  const ya = tmp(c, 'ya', 'i32');
  const p = tmp(c, 'qs', 'v128');
  const rowBytes = s.hdP * 4;
  // NOTE: up to 16 accumulators (64 dims) per pass; V vectors are consumed straight from memory.
  // 16 exceed the registers (V8 spills some accumulators to the stack, in L1), yet a 64-dim head
  // in one pass reads each V row whole, as one sequential stream: two passes of 8, each reading
  // half of every 256-byte row, halved the bandwidth from memory (V of a decode batch: 1.4x).
  const DV = [16, 8, 4, 2].find((dv) => s.hdP % (4 * dv) === 0) ?? 2;
  const acc = Array.from({ length: DV }, (_, k) => tmp(c, `acc${k}`, 'v128'));
  f.forLoop(ya, () => f.get(yrow), () => f.get(yrow).i32(s.nHead * rowBytes).i32op('add'), 16, () => { f.get(ya).f32x4Const(0).v128Store(); });
  f.forLoop(g, () => f.i32(0), () => f.get(pages), 1, () => {
    keysInPage(c, n, g, cnt);
    f.forLoop(c.h, () => f.i32(0), () => f.i32(s.nHead), 1, () => {
      f.get(c.h).i32(rowBytes).i32op('mul').get(yrow).i32op('add').set(ya);
      for (let dc = 0; dc < s.hdP; dc += 4 * DV) {
        // vp: page g's V rows of head h at dims dc; sp: probabilities of head h from key g * P.
        f.get(c.pt).get(g).i32(2).i32op('shl').i32op('add').i32Load().get(c.layerOff).i32op('add');
        f.get(c.h).i32(P * rowBytes).i32op('mul').i32op('add').i32(s.nHead * s.hdP * P * 4 + dc * 4).i32op('add').set(vp);
        f.get(vp).get(cnt).i32(rowBytes).i32op('mul').i32op('add').set(vEnd);
        f.get(c.h).i32(s.lmax).i32op('mul').get(g).i32(P).i32op('mul').i32op('add').i32(2).i32op('shl').i32(s.scoresAddr).i32op('add').set(sp);
        for (let k = 0; k < DV; k++) f.get(ya).v128Load((dc + 4 * k) * 4).set(acc[k]);
        f.forLoop(vp, () => f.get(vp), () => f.get(vEnd), rowBytes, () => {
          f.get(sp).load32Splat().set(p);
          for (let k = 0; k < DV; k++) mulAdd(c, acc[k], () => f.get(p), () => f.get(vp).v128Load(16 * k));
          f.get(sp).i32(4).i32op('add').set(sp);
        });
        for (let k = 0; k < DV; k++) f.get(ya).get(acc[k]).v128Store((dc + 4 * k) * 4);
      }
    });
  });
  // y row of head h *= 1 / sum of head h
  f.forLoop(c.h, () => f.i32(0), () => f.i32(s.nHead), 1, () => {
    f.get(c.h).i32(2).i32op('shl').i32(s.invAddr).i32op('add').load32Splat().set(p);
    f.get(c.h).i32(rowBytes).i32op('mul').get(yrow).i32op('add').set(ya);
    for (let k = 0; k < s.hdP / 4; k++) f.get(ya).get(ya).v128Load(16 * k).get(p).v('f32x4.mul').v128Store(16 * k);
  });
}
