import { setFlagsFromString } from 'node:v8';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from './backend.js';
import { KvArena } from './kv-arena.js';
import { createRng } from './rng.js';
import { maxAbsDiff } from './testing/fixtures.js';

// NOTE: Node 20 compiles relaxed SIMD only behind this flag; set at run time, it applies to modules
// compiled afterwards, so the kernel is tested with and without FMA in one process.
setFlagsFromString('--experimental-wasm-relaxed-simd');

function randomRows(n: number, seed: number): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: n }, () => rng.next() * 4 - 2);
}

/** The tfjs generic path: per head softmax(q·Kᵀ * scale + causal mask)·V. */
function reference(o: { q: Float32Array; k: Float32Array; v: Float32Array; T: number; pos0: number; H: number; hd: number }): Float32Array {
  const { T, pos0, H, hd } = o;
  const C = H * hd;
  const L = pos0 + T;
  const mask = new Float32Array(T * L);
  for (let i = 0; i < T; i++) mask.fill(-Infinity, i * L + pos0 + i + 1, (i + 1) * L);
  return tf.tidy(() => {
    const q = tf.tensor2d(o.q, [T, C]);
    const k = tf.tensor2d(o.k, [L, C]);
    const v = tf.tensor2d(o.v, [L, C]);
    const heads = Array.from({ length: H }, (_, h) => {
      const qh = tf.slice(q, [0, h * hd], [T, hd]);
      const s = tf.add(tf.mul(tf.matMul(qh, tf.slice(k, [0, h * hd], [L, hd]), false, true), 1 / Math.sqrt(hd)), tf.tensor2d(mask, [T, L]));
      return tf.matMul(tf.softmax(s), tf.slice(v, [0, h * hd], [L, hd]));
    });
    return tf.concat(heads, 1).dataSync() as Float32Array;
  });
}

describe('KvArena attention kernel (wasm SIMD) against the tfjs generic path', () => {
  beforeAll(async () => {
    await initBackend('cpu');
  });

  const cases = [
    { name: 'decode row after 200 keys (pages crossed)', H: 4, hd: 32, pos0: 200, T: 1 },
    { name: 'prefill 4-row blocks and remainder rows', H: 2, hd: 32, pos0: 0, T: 70 },
    { name: 'chunk after earlier chunks', H: 3, hd: 16, pos0: 61, T: 9 },
    { name: 'head size padded (12 -> 16)', H: 2, hd: 12, pos0: 5, T: 6 },
    { name: 'head size 64', H: 1, hd: 64, pos0: 130, T: 3 },
  ];
  for (const c of cases.flatMap((x) => [{ ...x, fma: false }, { ...x, fma: true }])) {
    it(`${c.name}${c.fma ? ' (relaxed-SIMD FMA)' : ''}`, () => {
      const C = c.H * c.hd;
      const L = c.pos0 + c.T;
      const arena = new KvArena({ nLayer: 2, nHead: c.H, headDim: c.hd, maxPositions: 256, fma: c.fma });
      const other = arena.allocSlot(); // interleaved writes of another sequence must not leak in
      const slot = arena.allocSlot();
      const k = randomRows(L * C, 1);
      const v = randomRows(L * C, 2);
      const q = randomRows(c.T * C, 3);
      for (const layer of [0, 1]) {
        arena.writeRows(layer, other, 0, randomRows(L * C, 4), randomRows(L * C, 5));
        arena.writeRows(layer, slot, 0, k.subarray(0, c.pos0 * C), v.subarray(0, c.pos0 * C));
        arena.writeRows(layer, slot, c.pos0, k.subarray(c.pos0 * C), v.subarray(c.pos0 * C));
      }
      const out = new Float32Array(c.T * C);
      arena.attend({ layer: 1, slot, qkv: q, rowStride: C, rows: c.T, pos0: c.pos0, scale: 1 / Math.sqrt(c.hd), out, outOffset: 0 });
      expect(maxAbsDiff(out, reference({ q, k, v, ...c }))).toBeLessThan(1e-5);
      arena.freeSlot(slot);
      arena.freeSlot(other);
    });
  }

  it('a recycled page does not leak the previous sequence into a new one', () => {
    const arena = new KvArena({ nLayer: 1, nHead: 2, headDim: 8, maxPositions: 128 });
    const C = 16;
    const first = arena.allocSlot();
    arena.writeRows(0, first, 0, randomRows(100 * C, 6), randomRows(100 * C, 7));
    arena.freeSlot(first);
    const slot = arena.allocSlot();
    const k = randomRows(3 * C, 8);
    const v = randomRows(3 * C, 9);
    const q = randomRows(3 * C, 10);
    arena.writeRows(0, slot, 0, k, v);
    const out = new Float32Array(3 * C);
    arena.attend({ layer: 0, slot, qkv: q, rowStride: C, rows: 3, pos0: 0, scale: 1 / Math.sqrt(8), out, outOffset: 0 });
    expect(maxAbsDiff(out, reference({ q, k, v, T: 3, pos0: 0, H: 2, hd: 8 }))).toBeLessThan(1e-5);
  });
});
