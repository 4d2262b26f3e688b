/**
 * HostBuffer: a persistent float32 tensor that JavaScript can write in place, so KV rows are
 * appended without recreating (recopying) the tensor. wasm: a Float32Array view on the tensor's
 * bytes in the wasm heap; cpu: the TypedArray the cpu backend keeps for the tensor. Other backends
 * (webgpu, tensorflow) fall back to a JS mirror that is re-uploaded once before the next use after
 * writes (NOTE: a whole-buffer copy; a GPU-side writeBuffer path is later work).
 * Invariant: `host()` views are valid only until the next tensor allocation (the wasm heap may grow).
 */
import * as tf from '@tensorflow/tfjs-core';

interface WasmBackendLike {
  wasm: { HEAPU8: Uint8Array };
  getMemoryOffset(dataId: object): number;
}
interface CpuBackendLike {
  data: { get(dataId: object): { values: Float32Array } | undefined };
}

/** A float32 tensor with in-place host writes. */
export class HostBuffer {
  private t: tf.Tensor;
  private readonly mirror: Float32Array | null;
  private dirty = false;

  /** Allocates a buffer of `shape` filled with `fill`. */
  constructor(readonly shape: number[], fill: number) {
    const size = shape.reduce((a, b) => a * b, 1);
    this.t = tf.keep(tf.fill(shape, fill, 'float32'));
    this.mirror = HostBuffer.directView(this.t) === null ? new Float32Array(size).fill(fill) : null;
  }

  private static directView(t: tf.Tensor): Float32Array | null {
    const name = tf.getBackend();
    if (name === 'wasm') {
      const b = tf.backend() as unknown as WasmBackendLike;
      return new Float32Array(b.wasm.HEAPU8.buffer, b.getMemoryOffset(t.dataId), t.size);
    }
    if (name === 'cpu') {
      const values = (tf.backend() as unknown as CpuBackendLike).data.get(t.dataId)?.values;
      return values instanceof Float32Array && values.length === t.size ? values : null;
    }
    return null;
  }

  /** A writable view of the buffer's contents; writes are visible to the next op that reads `tensor()`. */
  host(): Float32Array {
    if (this.mirror !== null) {
      this.dirty = true;
      return this.mirror;
    }
    return HostBuffer.directView(this.t) as Float32Array;
  }

  /** The tensor (do not dispose it; the buffer owns it). */
  tensor(): tf.Tensor {
    if (this.mirror !== null && this.dirty) {
      this.t.dispose();
      this.t = tf.keep(tf.tensor(this.mirror, this.shape, 'float32'));
      this.dirty = false;
    }
    return this.t;
  }

  /** Frees the tensor. */
  dispose(): void {
    this.t.dispose();
  }
}
