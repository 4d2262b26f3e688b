/**
 * The few WebAssembly JS API declarations this package uses, typed by hand.
 * NOTE: the project's TypeScript lib is ES2023 without DOM, so the global `WebAssembly` has no
 * declarations; Node 20 provides it at runtime.
 */

/** A shared WebAssembly.Memory (its buffer is a SharedArrayBuffer). */
export interface WasmMemory {
  readonly buffer: SharedArrayBuffer;
}

/** A compiled module. */
export type WasmModule = object;

interface WasmApi {
  Memory: { new (descriptor: { initial: number; maximum: number; shared: true }): WasmMemory };
  Module: { new (bytes: Uint8Array): WasmModule };
  Instance: { new (module: WasmModule, imports: Record<string, Record<string, unknown>>): { exports: Record<string, unknown> } };
}

/** The global WebAssembly namespace. */
export const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/** True when `value` is a WebAssembly.Memory. */
export function isWasmMemory(value: unknown): value is WasmMemory {
  return value instanceof (wasm.Memory as unknown as new () => object);
}
