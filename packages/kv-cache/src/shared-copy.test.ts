import { describe, expect, it } from 'vitest';
import { SharedCopier } from './shared-copy.js';

/** Deterministic bytes (xorshift32, seeded). */
function bytes(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

describe('SharedCopier', () => {
  it('copies exactly, for every source and destination alignment, and touches nothing else', () => {
    const shared = new Uint8Array(new SharedArrayBuffer(4096));
    const copier = new SharedCopier(shared.buffer);
    const source = bytes(600, 7);
    for (let from = 0; from < 8; from++) {
      for (let to = 100; to < 108; to++) {
        shared.fill(0xee);
        const piece = source.subarray(from, from + 513);
        copier.copy(piece, to);
        expect(Buffer.from(shared.subarray(to, to + piece.length)).equals(piece)).toBe(true);
        expect(shared[to - 1]).toBe(0xee);
        expect(shared[to + piece.length]).toBe(0xee);
      }
    }
  });

  it('copies sources longer than its scratch buffer', () => {
    const shared = new Uint8Array(new SharedArrayBuffer(1 << 20));
    const copier = new SharedCopier(shared.buffer);
    const source = bytes(700_001, 11);
    copier.copy(source.subarray(3), 5);
    expect(Buffer.from(shared.subarray(5, 5 + 699_998)).equals(source.subarray(3))).toBe(true);
  });

  it('handles an empty source', () => {
    const shared = new Uint8Array(new SharedArrayBuffer(64));
    new SharedCopier(shared.buffer).copy(Buffer.alloc(0), 3);
    expect(shared.every((b) => b === 0)).toBe(true);
  });
});
