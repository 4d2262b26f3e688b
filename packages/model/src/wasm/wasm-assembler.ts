/**
 * A tiny WebAssembly binary assembler: just enough of the format (types, one imported memory,
 * functions, exports, code) and of the instruction set (i32, f32, 128-bit SIMD, structured
 * control) to write the model's numerical kernels in TypeScript, with no toolchain.
 * Invariants: functions take i32/f32 parameters and return nothing; every emitted body is
 * validated by the engine when the module is compiled (WebAssembly.Module throws on bad code).
 */

/** Value types the kernels use. */
export type ValType = 'i32' | 'f32' | 'v128';

const TYPE_CODE: Record<ValType, number> = { i32: 0x7f, f32: 0x7d, v128: 0x7b };

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

function utf8(s: string): number[] {
  const b = [...new TextEncoder().encode(s)];
  return [...uleb(b.length), ...b];
}

function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

/** A local variable (or parameter) index. */
export type Local = number & { readonly __local: unique symbol };

/** Builds one function body. Methods push instructions; operands come from the stack. */
export class FunctionBuilder {
  private readonly code: number[] = [];
  private readonly locals: ValType[] = [];

  constructor(readonly params: readonly ValType[]) {}

  /** Parameter `i` as a local. */
  param(i: number): Local {
    return i as Local;
  }

  /** Declares a new local. */
  local(type: ValType): Local {
    this.locals.push(type);
    return (this.params.length + this.locals.length - 1) as Local;
  }

  get(l: Local): this { return this.raw(0x20, ...uleb(l)); }
  set(l: Local): this { return this.raw(0x21, ...uleb(l)); }
  tee(l: Local): this { return this.raw(0x22, ...uleb(l)); }

  i32(n: number): this { return this.raw(0x41, ...sleb(n | 0)); }
  f32(x: number): this {
    const b = new Uint8Array(new Float32Array([x]).buffer);
    return this.raw(0x43, ...b);
  }
  /** v128.const with four equal f32 lanes. */
  f32x4Const(x: number): this {
    const b = new Uint8Array(new Float32Array([x, x, x, x]).buffer);
    return this.simd(0x0c, ...b);
  }

  /** i32 binary/compare ops by name. */
  i32op(name: 'add' | 'sub' | 'mul' | 'shl' | 'shr_u' | 'and' | 'lt_s' | 'ge_s' | 'gt_s' | 'le_s' | 'eqz' | 'eq' | 'div_u' | 'rem_u'): this {
    const op = { eq: 0x46, add: 0x6a, sub: 0x6b, mul: 0x6c, div_u: 0x6e, rem_u: 0x70, and: 0x71, shl: 0x74, shr_u: 0x76, eqz: 0x45, lt_s: 0x48, gt_s: 0x4a, le_s: 0x4c, ge_s: 0x4e }[name];
    return this.raw(op);
  }
  /** f32 scalar ops by name. */
  f32op(name: 'add' | 'sub' | 'mul' | 'div' | 'min' | 'max' | 'sqrt'): this {
    return this.raw({ sqrt: 0x91, add: 0x92, sub: 0x93, mul: 0x94, div: 0x95, min: 0x96, max: 0x97 }[name]);
  }
  /** f32x4 / i32x4 / v128 ops by name. */
  v(name: 'f32x4.add' | 'f32x4.sub' | 'f32x4.mul' | 'f32x4.div' | 'f32x4.min' | 'f32x4.max' | 'f32x4.nearest' | 'f32x4.splat'
    | 'f32x4.pmin' | 'f32x4.pmax' | 'i32x4.trunc_sat_f32x4_s' | 'i32x4.add' | 'i32x4.shl' | 'i32x4.splat' | 'f32x4.sqrt'
    | 'f32x4.relaxed_madd'): this {
    const op = {
      'f32x4.splat': 0x13, 'i32x4.splat': 0x11, 'f32x4.nearest': 0x6a, 'i32x4.shl': 0xab, 'i32x4.add': 0xae,
      'f32x4.sqrt': 0xe3, 'f32x4.add': 0xe4, 'f32x4.sub': 0xe5, 'f32x4.mul': 0xe6, 'f32x4.div': 0xe7,
      'f32x4.min': 0xe8, 'f32x4.max': 0xe9, 'f32x4.pmin': 0xea, 'f32x4.pmax': 0xeb, 'i32x4.trunc_sat_f32x4_s': 0xf8,
      // Relaxed SIMD: [a, b, c] -> a * b + c, fused or not as the hardware prefers (one rounding with FMA).
      'f32x4.relaxed_madd': 0x105,
    }[name];
    return this.simd(op);
  }
  /** select: [a, b, cond] -> cond ? a : b. */
  select(): this { return this.raw(0x1b); }
  extractLane(lane: number): this { return this.simd(0x1f, lane); }

  /** Memory access; `offset` is a constant byte offset added to the address on the stack. */
  i32Load(offset = 0): this { return this.raw(0x28, 2, ...uleb(offset)); }
  f32Load(offset = 0): this { return this.raw(0x2a, 2, ...uleb(offset)); }
  f32Store(offset = 0): this { return this.raw(0x38, 2, ...uleb(offset)); }
  v128Load(offset = 0): this { return this.simd(0x00, 4, ...uleb(offset)); }
  v128Store(offset = 0): this { return this.simd(0x0b, 4, ...uleb(offset)); }
  load32Splat(offset = 0): this { return this.simd(0x09, 2, ...uleb(offset)); }

  /** `for (l = from; l < to; l += step) body()`; from/to (and a step given as a function) push i32 values. */
  forLoop(l: Local, from: () => void, to: () => void, step: number | (() => void), body: () => void): this {
    from();
    this.set(l);
    this.raw(0x02, 0x40, 0x03, 0x40); // block, loop
    this.get(l);
    to();
    this.i32op('ge_s').raw(0x0d, 1); // br_if out of the block
    body();
    this.get(l);
    if (typeof step === 'number') this.i32(step);
    else step();
    this.i32op('add').set(l);
    return this.raw(0x0c, 0, 0x0b, 0x0b); // br loop; end loop; end block
  }

  /** `if (cond) body()`; cond pushes an i32. */
  ifThen(cond: () => void, body: () => void): this {
    cond();
    this.raw(0x04, 0x40);
    body();
    return this.raw(0x0b);
  }

  /** Encoded body (locals + code + end). */
  encode(): number[] {
    const groups = this.locals.map((t) => [1, TYPE_CODE[t]]);
    const body = [...vec(groups), ...this.code, 0x0b];
    return [...uleb(body.length), ...body];
  }

  private simd(op: number, ...imm: number[]): this {
    return this.raw(0xfd, ...uleb(op), ...imm);
  }

  private raw(...bytes: number[]): this {
    for (const b of bytes) this.code.push(b);
    return this;
  }
}

/** Pages declared as the maximum of a shared memory import (4 GiB: any memory's maximum fits). */
const SHARED_MAX_PAGES = 65536;

/**
 * A module importing `env.memory` and exporting named functions. `shared`: the import is a shared
 * memory (what threads running the same kernels over one memory need).
 */
export function assembleModule(functions: ReadonlyArray<{ name: string; fn: FunctionBuilder }>, shared = false): Uint8Array {
  const section = (id: number, payload: number[]): number[] => [id, ...uleb(payload.length), ...payload];
  const types = functions.map(({ fn }) => [0x60, ...vec(fn.params.map((p) => [TYPE_CODE[p]])), 0]);
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types)),
    ...section(2, vec([[...utf8('env'), ...utf8('memory'), 0x02, ...(shared ? [0x03, 1, ...uleb(SHARED_MAX_PAGES)] : [0x00, 1])]])),
    ...section(3, vec(functions.map((_, i) => uleb(i)))),
    ...section(7, vec(functions.map(({ name }, i) => [...utf8(name), 0x00, ...uleb(i)]))),
    ...section(10, vec(functions.map(({ fn }) => fn.encode()))),
  ];
  return new Uint8Array(bytes);
}
