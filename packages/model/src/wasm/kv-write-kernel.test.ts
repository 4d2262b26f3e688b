import { describe, expect, it } from 'vitest';
import { KvArena } from '../kv-arena.js';
import { createRng } from '../rng.js';

function randomRows(n: number, seed: number): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: n }, () => rng.next() * 4 - 2);
}

describe('KV append kernel (rows already in the arena memory)', () => {
  // Head sizes with and without pad lanes and a V tail that is not whole vectors; pages crossed.
  const cases = [{ H: 2, hd: 12 }, { H: 3, hd: 8 }, { H: 1, hd: 64 }, { H: 2, hd: 6 }];
  for (const { H, hd } of cases) {
    it(`writes what the JavaScript path writes: ${H} heads of ${hd}`, () => {
      const C = H * hd;
      const [pos0, T] = [61, 90];
      const arena = new KvArena({ nLayer: 2, nHead: H, headDim: hd, maxPositions: 256, reserveBytes: 2 * 256 * C * 4 });
      const k = randomRows((pos0 + T) * C, 1);
      const v = randomRows((pos0 + T) * C, 2);
      const [js, kernel] = [arena.allocSlot(), arena.allocSlot()];
      for (const slot of [js, kernel]) arena.ensureRows(slot, pos0 + T);
      // Rows for the kernel path: copies of k and v in the arena's reserved bytes.
      const mem = new Float32Array(arena.wasmMemory.buffer);
      const at = arena.reservedAddr >> 2;
      mem.set(k, at);
      mem.set(v, at + 256 * C);
      const inMemory = (from: number, to: number): [Float32Array, Float32Array] => [mem.subarray(at + from * C, at + to * C), mem.subarray(at + 256 * C + from * C, at + 256 * C + to * C)];
      for (const layer of [0, 1]) {
        arena.writeRows(layer, js, 0, k.subarray(0, pos0 * C), v.subarray(0, pos0 * C));
        arena.writeRows(layer, js, pos0, k.subarray(pos0 * C), v.subarray(pos0 * C));
        arena.writeRows(layer, kernel, 0, ...inMemory(0, pos0));
        arena.writeRows(layer, kernel, pos0, ...inMemory(pos0, pos0 + T));
      }
      const q = randomRows(T * C, 3);
      const attend = (slot: number): Float32Array => {
        const out = new Float32Array(T * C);
        arena.attend({ layer: 1, slot, qkv: q, rowStride: C, rows: T, pos0, scale: 1 / Math.sqrt(hd), out, outOffset: 0 });
        return out;
      };
      const [a, b] = [attend(js), attend(kernel)];
      expect(b).toEqual(a);
      expect(a.every(Number.isFinite)).toBe(true);
    });
  }
});
