/**
 * Which optional WebAssembly SIMD features this runtime compiles, detected once by validating a
 * one-instruction module. Relaxed SIMD (`f32x4.relaxed_madd`, an FMA on x86 with FMA3 and on
 * ARM) is on by default from Node 22 (V8 11.4); Node 20 compiles it only with V8's
 * `--experimental-wasm-relaxed-simd`. If the first probe fails, this file turns that flag on
 * (v8.setFlagsFromString) and probes again, so every entry point that loads a model (CLI, server,
 * bench, engine worker threads and child processes, each of which loads the model itself) gets
 * the FMA kernels without a command-line flag. Where the flag does not exist or does not help,
 * the kernels use `f32x4.mul` + `f32x4.add`. `BATON_WASM_FMA=0` turns the relaxed kernels off
 * and leaves V8's flags alone (A/B runs).
 * NOTE: V8 reads the wasm feature flags when a module is compiled, and its flags are process-wide:
 * set once, they apply to modules compiled later on any thread (tfjs's own module, compiled
 * before, is unaffected and needs nothing from it). Node allows setting them after start
 * (no `--freeze-flags-after-init`).
 */
import { setFlagsFromString } from 'node:v8';
import { assembleModule, FunctionBuilder } from './wasm-assembler.js';
import { wasmApi } from './wasm-runtime.js';

/** The V8 flag that enables relaxed SIMD on Node 20 (a no-op where it is on by default). */
export const RELAXED_SIMD_FLAG = '--experimental-wasm-relaxed-simd';

let relaxed: boolean | null = null;

function probe(): boolean {
  const f = new FunctionBuilder([]);
  f.i32(0).f32x4Const(1).f32x4Const(2).f32x4Const(3).v('f32x4.relaxed_madd').v128Store();
  return wasmApi.validate(assembleModule([{ name: 'probe', fn: f }]));
}

function fmaDisabled(): boolean {
  return process.env['BATON_WASM_FMA'] === '0';
}

/**
 * Whether `f32x4.relaxed_madd` compiles here (and BATON_WASM_FMA is not 0, read on every call).
 * The first call with FMA allowed enables relaxed SIMD in V8 if it is off (see the header).
 */
export function relaxedSimdSupported(): boolean {
  if (fmaDisabled()) return false;
  if (relaxed === null) {
    relaxed = probe();
    if (!relaxed) {
      setFlagsFromString(RELAXED_SIMD_FLAG);
      relaxed = probe();
    }
  }
  return relaxed;
}
