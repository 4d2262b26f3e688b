/**
 * KvArena memory growth: the arena's WebAssembly memory can never shrink, so it must grow only by
 * what the attached sequences need (in GROW_STEP_BYTES steps), never by a geometric overshoot that
 * would be held for good; released pages are reused, so attaching the same load again grows
 * nothing.
 */
import { describe, expect, it } from 'vitest';
import { GROW_STEP_BYTES, KvArena } from './kv-arena.js';
import { layerBytes, PAGE_POSITIONS } from './wasm/attention-kernel.js';

const SHAPE = { nLayer: 4, nHead: 4, headDim: 64, maxPositions: 1024 };
const PAGE_BYTES = SHAPE.nLayer * layerBytes(SHAPE.nHead, SHAPE.headDim);

describe('KvArena growth', () => {
  it('stays within one growth step of the pages it holds, and a second identical load grows nothing', () => {
    const arena = new KvArena(SHAPE);
    const base = arena.wasmMemory.buffer.byteLength;
    const positions = 8 * PAGE_POSITIONS;
    let pages = 0;
    let worstOvershoot = 0;
    const slots: number[] = [];
    for (let i = 0; i < 24; i++) {
      const slot = arena.allocSlot();
      slots.push(slot);
      arena.ensureRows(slot, positions);
      pages += positions / PAGE_POSITIONS;
      worstOvershoot = Math.max(worstOvershoot, arena.wasmMemory.buffer.byteLength - (base + pages * PAGE_BYTES));
    }
    expect(worstOvershoot).toBeLessThanOrEqual(GROW_STEP_BYTES);
    const afterFirst = arena.wasmMemory.buffer.byteLength;
    for (const slot of slots) arena.freeSlot(slot);
    for (let i = 0; i < 24; i++) arena.ensureRows(arena.allocSlot(), positions);
    expect(arena.wasmMemory.buffer.byteLength, 'second identical load').toBe(afterFirst);
    arena.dispose();
  });
});
