/**
 * Which optional WebAssembly SIMD features this runtime compiles, detected once by validating a
 * one-instruction module. Relaxed SIMD (`f32x4.relaxed_madd`, an FMA on x86 with FMA3 and on
 * ARM) is on by default from Node 22 (V8 11.4); Node 20 compiles it only when started with
 * `--experimental-wasm-relaxed-simd`. Without it the kernels use `f32x4.mul` + `f32x4.add`.
 * `BATON_WASM_FMA=0` turns the relaxed kernels off (A/B runs).
 */
import { assembleModule, FunctionBuilder } from './wasm-assembler.js';
import { wasmApi } from './wasm-runtime.js';

let relaxed: boolean | null = null;

/** Whether `f32x4.relaxed_madd` compiles here (and BATON_WASM_FMA is not 0, read on every call). */
export function relaxedSimdSupported(): boolean {
  if (relaxed === null) {
    const f = new FunctionBuilder([]);
    f.i32(0).f32x4Const(1).f32x4Const(2).f32x4Const(3).v('f32x4.relaxed_madd').v128Store();
    relaxed = wasmApi.validate(assembleModule([{ name: 'probe', fn: f }]));
  }
  return relaxed && process.env['BATON_WASM_FMA'] !== '0';
}
