/**
 * SIMD math shared by the generated kernels: exp and gelu_new on f32x4 (wasm has no
 * transcendental instructions) and horizontal reductions. Emitters push instructions onto a FunctionBuilder;
 * they consume and produce values on the wasm stack as documented per function.
 */
import type { FunctionBuilder, Local } from './wasm-assembler.js';

/** 1.5 * 2^23: adding it rounds a float of magnitude < 2^22 to an integer held in the low mantissa bits. */
const ROUND_MAGIC = 12582912;
const ROUND_MAGIC_BITS = 0x4b400000;

const EXP_CONSTS = {
  lo: -87.33654, hi: 88.37626, log2e: Math.LOG2E, magic: ROUND_MAGIC, c1: 0.693359375, c2: -2.12194440e-4,
  p0: 1.9875691500e-4, p1: 1.3981999507e-3, p2: 8.3334519073e-3, p3: 4.1665795894e-2, p4: 1.6666665459e-1, p5: 5.0000001201e-1, one: 1,
};

/** Splatted constants of expF32x4, held in v128 locals. */
export type ExpConsts = Record<keyof typeof EXP_CONSTS, Local>;

/** Declares one v128 local per constant of `values`; initConsts sets them. */
function declareConsts<K extends string>(f: FunctionBuilder, values: Record<K, number>): Record<K, Local> {
  const out = {} as Record<K, Local>;
  for (const name of Object.keys(values) as K[]) out[name] = f.local('v128');
  return out;
}

/** Sets each constant's local (the splat of its value). */
function initConsts<K extends string>(f: FunctionBuilder, values: Record<K, number>, locals: Record<K, Local>): void {
  for (const name of Object.keys(values) as K[]) f.f32x4Const(values[name]).set(locals[name]);
}

/**
 * Declares and initialises exp's constants; emit once at function entry. NOTE: V8 materialises
 * each v128.const with several instructions, so constants inside a hot loop cost more than the math.
 */
export function expConsts(f: FunctionBuilder): ExpConsts {
  const out = declareConsts(f, EXP_CONSTS);
  initConsts(f, EXP_CONSTS, out);
  return out;
}

/** gelu_new's constants: 2 sqrt(2 / pi) (1.5957691216...) and that times 0.044715. */
const GELU_A = 2 * Math.sqrt(2 / Math.PI);
const GELU_CONSTS = { ...EXP_CONSTS, ga: GELU_A, gb: GELU_A * 0.044715, zero: 0 };

/** Splatted constants of geluNewF32x4 (exp's included). */
export type GeluConsts = Record<keyof typeof GELU_CONSTS, Local>;

/** Declares gelu's constants as v128 locals, unset: emit initGeluConsts where they are needed. */
export function geluConsts(f: FunctionBuilder): GeluConsts {
  return declareConsts(f, GELU_CONSTS);
}

/** Sets gelu's constants. NOTE: set right before use, their live ranges stay out of hot loops. */
export function initGeluConsts(f: FunctionBuilder, k: GeluConsts): void {
  initConsts(f, GELU_CONSTS, k);
}

/**
 * Pushes gelu_new(x) for the f32x4 in local `x`, in its exactly equal sigmoid form
 * x / (1 + exp(-x (A + B x^2))); `t1`, `t2`: v128 scratch locals.
 */
export function geluNewF32x4(f: FunctionBuilder, k: GeluConsts, x: Local, t1: Local, t2: Local): void {
  f.get(x);
  f.get(k.zero).get(x).get(x).v('f32x4.mul').get(k.gb).v('f32x4.mul').get(k.ga).v('f32x4.add');
  f.get(x).v('f32x4.mul').v('f32x4.sub');
  expF32x4(f, k, t1, t2);
  f.get(k.one).v('f32x4.add').v('f32x4.div');
}

/**
 * exp(x) for the f32x4 on the stack (Cephes expf: range reduction by ln 2, degree-5 polynomial,
 * 2^n through the exponent bits); relative error ~1e-7 on [-87, 88]; inputs beyond clamp
 * (below: ~1e-38, never 0; above: ~2.4e38, never Infinity). `x`, `fx`: v128 scratch locals.
 * NOTE: pmin/pmax and the magic-number rounding each compile to one or two x86 instructions;
 * wasm's f32x4.min/max (NaN and -0 semantics), nearest and trunc_sat expand to long sequences
 * and made this function ~2x slower.
 */
export function expF32x4(f: FunctionBuilder, k: ExpConsts, x: Local, fx: Local): void {
  f.get(k.lo).v('f32x4.pmax').get(k.hi).v('f32x4.pmin').tee(x);
  f.get(k.log2e).v('f32x4.mul').get(k.magic).v('f32x4.add').tee(fx); // bits: magic + n
  f.i32(127 - ROUND_MAGIC_BITS).v('i32x4.splat').v('i32x4.add').i32(23).v('i32x4.shl'); // 2^n, left on the stack
  f.get(fx).get(k.magic).v('f32x4.sub').set(fx); // n as a float
  f.get(x).get(fx).get(k.c1).v('f32x4.mul').v('f32x4.sub');
  f.get(fx).get(k.c2).v('f32x4.mul').v('f32x4.sub').set(x);
  f.get(k.p0);
  for (const coef of [k.p1, k.p2, k.p3, k.p4, k.p5]) f.get(x).v('f32x4.mul').get(coef).v('f32x4.add');
  f.get(x).get(x).v('f32x4.mul').v('f32x4.mul').get(x).v('f32x4.add').get(k.one).v('f32x4.add');
  f.v('f32x4.mul');
}

/** Pushes the f32 lane0 op lane1 op lane2 op lane3 of `v` (a fixed order: deterministic). */
export function horizontal(f: FunctionBuilder, v: Local, op: 'max' | 'add'): void {
  f.get(v).extractLane(0);
  for (let lane = 1; lane < 4; lane++) f.get(v).extractLane(lane).f32op(op);
}
