/**
 * KvArena: the backend-side KV cache of every sequence attached to one model, as per-layer slot
 * tensors written in place (HostBuffer): K transposed [slots, H, hd, cap] (so attention scores are
 * a plain q·Kᵀ matMul), V [slots, H, cap, hd], and an additive visibility mask [slots, 1, 1, cap]
 * (0 = visible, -Infinity = not). A decode step runs attention for ALL slots in one batched matMul
 * per layer; each sequence sees only its own slot, so rows never mix.
 * Invariants: positions >= a slot's length are masked and hold finite values (zeros after
 * release); growth (more slots or more capacity) copies the old contents once, amortised.
 */
import * as tf from '@tensorflow/tfjs-core';
import { HostBuffer } from './host-buffer.js';

const CAP_STEP = 64;
const SLOT_STEP = 4;

/** Shape parameters of an arena. */
export interface ArenaShape {
  nLayer: number;
  nHead: number;
  headDim: number;
}

function roundUp(n: number, step: number): number {
  return Math.ceil(n / step) * step;
}

/** Per-layer slot tensors for the KV of all attached sequences. */
export class KvArena {
  private kT: HostBuffer[] = [];
  private v: HostBuffer[] = [];
  private maskBuf: HostBuffer | null = null;
  private free: number[] = [];
  private slotCount = 0;
  private cap = 0;
  private readonly nEmbd: number;

  constructor(private readonly shape: ArenaShape) {
    this.nEmbd = shape.nHead * shape.headDim;
  }

  /** Number of slots (the batch dimension of decode attention). */
  get slots(): number {
    return this.slotCount;
  }

  /** Positions each slot can hold. */
  get capacity(): number {
    return this.cap;
  }

  /** Takes the lowest free slot, growing the arena when none is free. */
  allocSlot(): number {
    if (this.free.length === 0) {
      const old = this.slotCount;
      this.resize(old + SLOT_STEP, Math.max(this.cap, CAP_STEP));
      for (let s = old; s < this.slotCount; s++) this.free.push(s);
    }
    this.free.sort((a, b) => a - b);
    return this.free.shift() as number;
  }

  /** Returns a slot: masks it and zeroes its rows so the next owner starts clean. */
  freeSlot(slot: number): void {
    const { nHead: H, headDim: hd } = this.shape;
    const span = H * hd * this.cap;
    for (let l = 0; l < this.shape.nLayer; l++) {
      this.kT[l].host().fill(0, slot * span, (slot + 1) * span);
      this.v[l].host().fill(0, slot * span, (slot + 1) * span);
    }
    this.mask().host().fill(-Infinity, slot * this.cap, (slot + 1) * this.cap);
    this.free.push(slot);
    // NOTE: capacity is shared by all slots and only grows while any slot is live; when the last
    // one leaves, start over so one long sequence does not pad every later decode step.
    if (this.free.length === this.slotCount) this.reset();
  }

  private reset(): void {
    this.dispose();
    this.free = [];
    this.slotCount = 0;
    this.cap = 0;
  }

  /** Grows capacity so every slot can hold `positions` tokens. */
  ensureCapacity(positions: number): void {
    if (positions <= this.cap) return;
    this.resize(this.slotCount, roundUp(Math.max(positions, this.cap * 1.25), CAP_STEP));
  }

  /** Makes positions [0, length) of `slot` visible and later ones invisible. */
  setVisible(slot: number, length: number): void {
    const m = this.mask().host();
    const base = slot * this.cap;
    m.fill(0, base, base + length);
    m.fill(-Infinity, base + length, base + this.cap);
  }

  /** Writes n rows ([n, nEmbd], heads concatenated) of layer's K and V at positions [start, start + n). */
  writeRows(layer: number, slot: number, start: number, k: Float32Array, v: Float32Array): void {
    const { nHead: H, headDim: hd } = this.shape;
    const C = this.nEmbd;
    const cap = this.cap;
    const n = k.length / C;
    const kt = this.kT[layer].host();
    const vv = this.v[layer].host();
    const slotBase = slot * H * hd * cap;
    for (let h = 0; h < H; h++) {
      const headBase = slotBase + h * hd * cap;
      for (let t = 0; t < n; t++) {
        const src = t * C + h * hd;
        const pos = start + t;
        // K transposed: [hd, cap] per head; V: [cap, hd] per head.
        for (let d = 0; d < hd; d++) kt[headBase + d * cap + pos] = k[src + d];
        vv.set(v.subarray(src, src + hd), headBase + pos * hd);
      }
    }
  }

  /** Kᵀ of one head of one slot, positions [0, length): [hd, length]. Call inside tf.tidy. */
  headKeysT(layer: number, slot: number, head: number, length: number): tf.Tensor2D {
    const hd = this.shape.headDim;
    const s = tf.slice(this.kT[layer].tensor(), [slot, head, 0, 0], [1, 1, hd, length]);
    return tf.reshape(s, [hd, length]);
  }

  /** V of one head of one slot, positions [0, length): [length, hd]. Call inside tf.tidy. */
  headValues(layer: number, slot: number, head: number, length: number): tf.Tensor2D {
    const hd = this.shape.headDim;
    const s = tf.slice(this.v[layer].tensor(), [slot, head, 0, 0], [1, 1, length, hd]);
    return tf.reshape(s, [length, hd]);
  }

  /** Whole-arena tensors of a layer for batched decode attention: Kᵀ [S,H,hd,cap], V [S,H,cap,hd], mask [S,1,1,cap]. */
  layerTensors(layer: number): { kT: tf.Tensor; v: tf.Tensor; mask: tf.Tensor } {
    return { kT: this.kT[layer].tensor(), v: this.v[layer].tensor(), mask: this.mask().tensor() };
  }

  /** Frees every tensor. */
  dispose(): void {
    for (const b of [...this.kT, ...this.v]) b.dispose();
    this.maskBuf?.dispose();
    this.kT = [];
    this.v = [];
    this.maskBuf = null;
  }

  private mask(): HostBuffer {
    return this.maskBuf as HostBuffer;
  }

  private resize(slots: number, cap: number): void {
    const { nLayer, nHead: H, headDim: hd } = this.shape;
    const oldSlots = this.slotCount;
    const oldCap = this.cap;
    const copy = (old: HostBuffer | undefined, shape: number[], fill: number, rows: number, oldRow: number, newRow: number): HostBuffer => {
      const next = new HostBuffer(shape, fill);
      if (old !== undefined) {
        const src = old.host();
        const dst = next.host();
        for (let r = 0; r < rows; r++) dst.set(src.subarray(r * oldRow, r * oldRow + Math.min(oldRow, newRow)), r * newRow);
        old.dispose();
      }
      return next;
    };
    for (let l = 0; l < nLayer; l++) {
      // Kᵀ rows run over positions (length cap); V rows are per-slot-per-head blocks of cap*hd.
      this.kT[l] = copy(this.kT[l], [slots, H, hd, cap], 0, oldSlots * H * hd, oldCap, cap);
      this.v[l] = copy(this.v[l], [slots, H, cap, hd], 0, oldSlots * H, oldCap * hd, cap * hd);
    }
    this.maskBuf = copy(this.maskBuf ?? undefined, [slots, 1, 1, cap], -Infinity, oldSlots, oldCap, cap);
    this.slotCount = slots;
    this.cap = cap;
  }
}
