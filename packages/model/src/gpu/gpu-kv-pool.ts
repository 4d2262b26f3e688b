/**
 * GpuKvPool: the GPU-resident working KV of every slot of one model, in the host thread. One pool
 * tensor per layer ([pages * 2 * GPU_PAGE, nEmbd], layout in forward-ops.ts), one page list per
 * slot shared by all layers, pages recycled on free. Growth doubles every layer's pool (a GPU-side
 * concat, rare); rows are appended in place by ForwardOps.appendKv, never re-uploaded per step.
 * Invariants: a slot's pages cover every position written to it; page tables have a fixed width
 * (ceil(nPositions / GPU_PAGE)) so kernel shapes do not change as sequences grow.
 */
import * as tf from '@tensorflow/tfjs-core';
import { GPU_PAGE, type ForwardOps } from './forward-ops.js';

const INITIAL_PAGES = 16;

/** The per-layer pools and page tables of one model. */
export class GpuKvPool {
  private pools: tf.Tensor2D[];
  private capacity = INITIAL_PAGES;
  private used = 0;
  private readonly freePages: number[] = [];
  private readonly slots = new Map<number, number[]>();
  /** Page-table width. */
  readonly maxPages: number;

  constructor(nLayer: number, private readonly nEmbd: number, nPositions: number) {
    this.maxPages = Math.ceil(nPositions / GPU_PAGE);
    this.pools = Array.from({ length: nLayer }, () => tf.zeros([INITIAL_PAGES * 2 * GPU_PAGE, nEmbd]) as tf.Tensor2D);
  }

  /** One layer's pool tensor. */
  layer(l: number): tf.Tensor2D {
    return this.pools[l];
  }

  /** Pool row of the K of (slot, position), allocating pages up to it. */
  keyRow(slot: number, pos: number): number {
    const pages = this.pagesOf(slot);
    while (pages.length * GPU_PAGE <= pos) pages.push(this.newPage());
    return pages[Math.floor(pos / GPU_PAGE)] * 2 * GPU_PAGE + (pos % GPU_PAGE);
  }

  /** Page table rows for `slots` [slots.length, maxPages], as host data and an int32 tensor. */
  table(slots: readonly number[]): { host: Int32Array; tensor: tf.Tensor2D } {
    const host = this.tableHost(slots);
    return { host, tensor: tf.tensor2d(host, [slots.length, this.maxPages], 'int32') };
  }

  /** Page table rows for `slots` [slots.length * maxPages] (host data only). */
  tableHost(slots: readonly number[]): Int32Array {
    const host = new Int32Array(slots.length * this.maxPages);
    slots.forEach((s, i) => host.set(this.pagesOf(s), i * this.maxPages));
    return host;
  }

  /** Appends rows ([n, W], K at kOff, V at vOff) at pool rows `dst` of layer l. */
  append(ops: ForwardOps, l: number, rows: tf.Tensor2D, kOff: number, vOff: number, dst: tf.Tensor1D): void {
    const next = ops.appendKv({ pool: this.pools[l], rows, kOff, vOff, dst });
    if (next !== this.pools[l]) {
      // NOTE: a replaced pool may be born inside a caller's tf.tidy; keep it alive past it.
      tf.keep(next);
      this.pools[l].dispose();
      this.pools[l] = next;
    }
  }

  /** Returns a slot's pages. */
  free(slot: number): void {
    const pages = this.slots.get(slot);
    if (pages === undefined) return;
    this.freePages.push(...pages);
    this.slots.delete(slot);
  }

  /** Frees every pool tensor. */
  dispose(): void {
    tf.dispose(this.pools);
    this.pools = [];
  }

  private pagesOf(slot: number): number[] {
    let pages = this.slots.get(slot);
    if (pages === undefined) {
      pages = [];
      this.slots.set(slot, pages);
    }
    return pages;
  }

  private newPage(): number {
    const reused = this.freePages.pop();
    if (reused !== undefined) return reused;
    if (this.used === this.capacity) this.grow();
    return this.used++;
  }

  private grow(): void {
    const more = this.capacity;
    this.pools = this.pools.map((p) => {
      const bigger = tf.tidy(() => tf.concat([p, tf.zeros([more * 2 * GPU_PAGE, this.nEmbd])]) as tf.Tensor2D);
      p.dispose();
      return bigger;
    });
    this.capacity += more;
  }
}
