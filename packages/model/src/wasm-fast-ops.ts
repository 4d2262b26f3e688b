/**
 * Fused element-wise ops for the tfjs wasm backend: the row kernels (wasm/row-kernels.ts) run
 * directly on tensors in tfjs-wasm's heap, one call instead of several tfjs ops (fewer dispatches,
 * one pass over memory). `wasmFastOps()` returns null on any other backend, or if this tfjs-wasm
 * build does not expose its memory, and callers then use plain tfjs ops.
 * Invariants: inputs are read in place, outputs are fresh tensors the kernels fully write; the
 * kernels are bound to one backend instance (a new backend instance gets new kernels).
 */
import * as tf from '@tensorflow/tfjs-core';
import { createRowKernels, type RowKernels } from './wasm/row-kernels.js';
import type { WasmMemory } from './wasm/wasm-runtime.js';

interface WasmBackendLike {
  // NOTE: tfjs-backend-wasm 4.x keeps the Emscripten module's exports (memory included) in `asm`.
  wasm: { asm?: { memory?: unknown } };
  getMemoryOffset(dataId: object): number;
  makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo;
}

/** Fused ops on wasm-backend tensors. */
export interface WasmFastOps {
  /** LayerNorm normalisation over the last axis of x [rows, cols]. */
  normalize(x: tf.Tensor2D, eps: number): tf.Tensor2D;
  /** gelu_new (tanh approximation) of x. */
  geluNew(x: tf.Tensor2D): tf.Tensor2D;
}

function isMemory(m: unknown): m is WasmMemory {
  return typeof m === 'object' && m !== null && 'buffer' in m && 'grow' in m;
}

const bound = new WeakMap<object, WasmFastOps | null>();

function bind(backend: WasmBackendLike): WasmFastOps | null {
  const memory = backend.wasm.asm?.memory;
  if (!isMemory(memory)) return null;
  let k: RowKernels;
  try {
    k = createRowKernels(memory);
  } catch {
    // NOTE: e.g. the multi-threaded tfjs-wasm build, whose memory is shared: our module imports an
    // unshared memory and fails to link; plain tfjs ops are then used.
    return null;
  }
  const out = (like: tf.Tensor2D): [tf.Tensor2D, number] => {
    const info = backend.makeOutput(like.shape, 'float32');
    return [tf.engine().makeTensorFromTensorInfo(info) as tf.Tensor2D, backend.getMemoryOffset(info.dataId)];
  };
  return {
    normalize(x, eps) {
      const [y, yAddr] = out(x);
      const [rows, cols] = x.shape;
      k.normalize(backend.getMemoryOffset(x.dataId), yAddr, rows, cols, 1 / cols, eps);
      return y;
    },
    geluNew(x) {
      const [y, yAddr] = out(x);
      k.geluNew(backend.getMemoryOffset(x.dataId), yAddr, x.size);
      return y;
    },
  };
}

/** The fused ops for the active backend, or null when it is not tfjs wasm. */
export function wasmFastOps(): WasmFastOps | null {
  if (tf.getBackend() !== 'wasm') return null;
  const backend = tf.backend() as unknown as WasmBackendLike;
  let ops = bound.get(backend);
  if (ops === undefined) {
    ops = bind(backend);
    bound.set(backend, ops);
  }
  return ops;
}
