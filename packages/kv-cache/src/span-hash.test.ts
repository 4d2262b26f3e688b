import { describe, expect, it } from 'vitest';
import { KvArgumentError } from './errors.js';
import { hashRuns } from './span-hash.js';
import { wasm } from './wasm-api.js';

function memoryWith(bytes: number, seed: number): { memory: ReturnType<typeof makeMemory>; view: Uint8Array } {
  const memory = makeMemory();
  const view = new Uint8Array(memory.buffer, 0, bytes);
  for (let i = 0; i < bytes; i++) view[i] = (i * 131 + seed * 17 + (i >> 7)) & 0xff;
  return { memory, view };
}

function makeMemory(): { readonly buffer: SharedArrayBuffer } {
  return new wasm.Memory({ initial: 2, maximum: 2, shared: true });
}

describe('hashRuns', () => {
  it('is the hash of the concatenation however the bytes split into runs', () => {
    const { memory, view } = memoryWith(8192, 1);
    const whole = hashRuns(memory, { offsets: [0], lengths: [8192] });
    expect(hashRuns(memory, { offsets: [0, 64, 4096], lengths: [64, 4032, 4096] })).toBe(whole);
    // The same payload at another place of another memory hashes the same.
    const other = makeMemory();
    new Uint8Array(other.buffer).set(view, 65536 - 8192 + 0);
    expect(hashRuns(other, { offsets: [65536 - 8192], lengths: [8192] })).toBe(whole);
  });

  it('detects every single-bit flip of a sample and a swap of two 16-byte vectors', () => {
    const { memory, view } = memoryWith(4096, 2);
    const runs = { offsets: [0], lengths: [4096] };
    const clean = hashRuns(memory, runs);
    for (const byte of [0, 1, 15, 16, 1000, 2047, 4095]) {
      for (let bit = 0; bit < 8; bit++) {
        view[byte] ^= 1 << bit;
        expect(hashRuns(memory, runs)).not.toBe(clean);
        view[byte] ^= 1 << bit;
      }
    }
    const a = view.slice(32, 48);
    view.copyWithin(32, 64, 80);
    view.set(a, 64);
    expect(hashRuns(memory, runs)).not.toBe(clean);
  });

  it('rejects a run that is not a multiple of 64 bytes', () => {
    const { memory } = memoryWith(128, 3);
    expect(() => hashRuns(memory, { offsets: [0], lengths: [80] })).toThrow(KvArgumentError);
  });
});
