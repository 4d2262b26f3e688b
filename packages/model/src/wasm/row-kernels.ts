/**
 * Generated WebAssembly SIMD kernels for the row-wise parts of a GPT-2 block, each one pass over
 * float32 rows instead of several tfjs ops: LayerNorm's normalisation of each row (its gamma and
 * beta are folded into the next dense layer; gelu_new runs in that layer's GEMM epilogue, see
 * gemm-kernel.ts). Widths need not be multiples of 4 (scalar tails).
 * Invariants: each output row depends only on its input row (batch composition never changes a
 * row's bits); inputs and outputs are byte addresses in the imported memory, may not overlap.
 */
import { horizontal } from './simd-math.js';
import { assembleModule, FunctionBuilder, type Local } from './wasm-assembler.js';
import { isShared, wasmApi, type WasmMemory } from './wasm-runtime.js';

/** normalize(x, out, rows, cols, 1 / cols, eps): out row = (x - mean) / sqrt(var + eps). */
export type NormalizeFn = (x: number, out: number, rows: number, cols: number, invCols: number, eps: number) => void;

/** The compiled kernels. */
export interface RowKernels {
  normalize: NormalizeFn;
}

/** Compiles the kernels against `memory`. */
export function createRowKernels(memory: WasmMemory): RowKernels {
  const bytes = assembleModule([{ name: 'normalize', fn: buildNormalize() }], isShared(memory));
  const { exports } = new wasmApi.Instance(new wasmApi.Module(bytes), { env: { memory } });
  return { normalize: exports['normalize'] as NormalizeFn };
}

/** Loops `a` over [from, end4) by vectors, then [end4, end) by floats. */
function sweep(f: FunctionBuilder, a: Local, from: Local, end4: Local, end: Local, vec: () => void, scalar: () => void): void {
  f.forLoop(a, () => f.get(from), () => f.get(end4), 16, vec);
  f.forLoop(a, () => f.get(end4), () => f.get(end), 4, scalar);
}

function buildNormalize(): FunctionBuilder {
  const f = new FunctionBuilder(['i32', 'i32', 'i32', 'i32', 'f32', 'f32']);
  const [x, out, rows, cols, invCols, eps] = [0, 1, 2, 3, 4, 5].map((i) => f.param(i));
  const [r, p, end4, end, a, delta] = ['i32', 'i32', 'i32', 'i32', 'i32', 'i32'].map(() => f.local('i32'));
  const [acc, mv, rv] = [0, 1, 2].map(() => f.local('v128'));
  const [s, mean, d] = [0, 1, 2].map(() => f.local('f32'));
  f.get(out).get(x).i32op('sub').set(delta);
  f.forLoop(r, () => f.i32(0), () => f.get(rows), 1, () => {
    f.get(x).get(r).get(cols).i32op('mul').i32(2).i32op('shl').i32op('add').set(p);
    f.get(p).get(cols).i32(-4).i32op('and').i32(2).i32op('shl').i32op('add').set(end4);
    f.get(p).get(cols).i32(2).i32op('shl').i32op('add').set(end);
    // mean
    f.f32x4Const(0).set(acc);
    sweep(f, a, p, end4, end,
      () => { f.get(acc).get(a).v128Load().v('f32x4.add').set(acc); },
      () => { f.get(s).get(a).f32Load().f32op('add').set(s); });
    horizontal(f, acc, 'add');
    f.get(s).f32op('add').get(invCols).f32op('mul').tee(mean).v('f32x4.splat').set(mv);
    f.f32(0).set(s);
    // variance of the centred row
    f.f32x4Const(0).set(acc);
    sweep(f, a, p, end4, end,
      () => { f.get(a).v128Load().get(mv).v('f32x4.sub').set(rv).get(acc).get(rv).get(rv).v('f32x4.mul').v('f32x4.add').set(acc); },
      () => { f.get(a).f32Load().get(mean).f32op('sub').set(d).get(s).get(d).get(d).f32op('mul').f32op('add').set(s); });
    horizontal(f, acc, 'add');
    f.get(s).f32op('add').get(invCols).f32op('mul').get(eps).f32op('add').f32op('sqrt').set(d);
    f.f32(1).get(d).f32op('div').tee(d).v('f32x4.splat').set(rv);
    f.f32(0).set(s);
    sweep(f, a, p, end4, end,
      () => { f.get(a).get(delta).i32op('add').get(a).v128Load().get(mv).v('f32x4.sub').get(rv).v('f32x4.mul').v128Store(); },
      () => { f.get(a).get(delta).i32op('add').get(a).f32Load().get(mean).f32op('sub').get(d).f32op('mul').f32Store(); });
  });
  return f;
}
