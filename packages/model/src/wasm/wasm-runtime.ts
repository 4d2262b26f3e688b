/**
 * Typed access to the WebAssembly JS API. NOTE: the project's TypeScript lib is ES2023 without
 * DOM, so the global `WebAssembly` has no declarations here; this file declares only what the
 * model's kernels use, instead of adding ambient types to the whole package.
 */

/** A WebAssembly.Memory. */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}

interface WasmApi {
  Memory: new (desc: { initial: number; maximum?: number; shared?: boolean }) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
  validate(bytes: Uint8Array): boolean;
}

/** Whether `memory` is shared (its buffer a SharedArrayBuffer): modules must import it as shared. */
export function isShared(memory: WasmMemory): boolean {
  return memory.buffer instanceof SharedArrayBuffer;
}

/** The global WebAssembly namespace. */
export const wasmApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/** Bytes per WebAssembly memory page. */
export const WASM_PAGE_BYTES = 65536;
