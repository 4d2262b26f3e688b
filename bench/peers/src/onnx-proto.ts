/**
 * A minimal protobuf writer for the ONNX messages the peer bench needs (ModelProto, GraphProto,
 * NodeProto, AttributeProto, TensorProto, ValueInfoProto), field numbers as in onnx/onnx.proto.
 * Invariant: only proto3 wire types 0 (varint) and 2 (length-delimited) plus packed repeats are
 * written; int64 values stay within 2^53 (shapes, axes, opset versions).
 */

/** ONNX TensorProto.DataType values used here. */
export const DataType = { FLOAT: 1, INT32: 6, INT64: 7 } as const;

/** A message under construction: bytes appended field by field. */
class Writer {
  private readonly parts: Uint8Array[] = [];
  private size = 0;

  private push(bytes: Uint8Array): void {
    this.parts.push(bytes);
    this.size += bytes.length;
  }

  private varint(n: number): void {
    const out: number[] = [];
    if (n < 0) {
      // Two's complement over 64 bits: ten bytes (the shapes here use -1 in Reshape targets).
      let lo = n >>> 0;
      let hi = Math.floor(n / 2 ** 32) >>> 0;
      for (let i = 0; i < 10; i++) {
        out.push((lo & 0x7f) | (i < 9 ? 0x80 : 0));
        lo = (lo >>> 7) | ((hi & 0x7f) << 25);
        hi >>>= 7;
      }
    } else {
      do {
        let byte = n % 128;
        n = Math.floor(n / 128);
        if (n > 0) byte |= 0x80;
        out.push(byte);
      } while (n > 0);
    }
    this.push(Uint8Array.from(out));
  }

  /** A varint field (int32, int64, enum). */
  int(field: number, n: number): this {
    this.varint(field << 3);
    this.varint(n);
    return this;
  }

  /** A float field (wire type 5). */
  float(field: number, x: number): this {
    this.varint((field << 3) | 5);
    this.push(new Uint8Array(new Float32Array([x]).buffer));
    return this;
  }

  /** A length-delimited field (bytes, string, sub-message). */
  bytes(field: number, b: Uint8Array): this {
    this.varint((field << 3) | 2);
    this.varint(b.length);
    this.push(b);
    return this;
  }

  str(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }

  /** Packed repeated varints. */
  packed(field: number, ns: readonly number[]): this {
    const inner = new Writer();
    for (const n of ns) inner.varint(n);
    return this.bytes(field, inner.finish());
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.size);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

/** A node attribute: a number (int unless `float`), ints, a string, or a tensor. */
export type Attr = { i: number } | { f: number } | { ints: readonly number[] } | { s: string } | { t: Tensor };

/** A constant tensor (initializer or Constant value). */
export interface Tensor {
  name: string;
  dims: readonly number[];
  data: Float32Array | BigInt64Array | Int32Array;
}

/** One graph node. */
export interface Node {
  op: string;
  inputs: readonly string[];
  outputs: readonly string[];
  attrs?: Record<string, Attr>;
  domain?: string;
}

/** A graph input or output: element type and shape (a string names a symbolic dimension). */
export interface ValueInfo {
  name: string;
  type: number;
  shape: ReadonlyArray<number | string>;
}

/** A whole model. */
export interface Model {
  opset: number;
  nodes: readonly Node[];
  initializers: readonly Tensor[];
  inputs: readonly ValueInfo[];
  outputs: readonly ValueInfo[];
}

function tensorProto(t: Tensor): Uint8Array {
  const type = t.data instanceof Float32Array ? DataType.FLOAT : t.data instanceof Int32Array ? DataType.INT32 : DataType.INT64;
  const raw = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  return new Writer().packed(1, t.dims).int(2, type).str(8, t.name).bytes(9, raw).finish();
}

function attributeProto(name: string, a: Attr): Uint8Array {
  const w = new Writer().str(1, name);
  // AttributeProto: f=2, i=3, s=4, t=5, ints=8, type=20 (FLOAT 1, INT 2, STRING 3, TENSOR 4, INTS 7).
  if ('f' in a) return w.float(2, a.f).int(20, 1).finish();
  if ('i' in a) return w.int(3, a.i).int(20, 2).finish();
  if ('s' in a) return w.str(4, a.s).int(20, 3).finish();
  if ('t' in a) return w.bytes(5, tensorProto(a.t)).int(20, 4).finish();
  return w.packed(8, a.ints).int(20, 7).finish();
}

function nodeProto(n: Node, index: number): Uint8Array {
  const w = new Writer();
  for (const i of n.inputs) w.str(1, i);
  for (const o of n.outputs) w.str(2, o);
  w.str(3, `${n.op}_${index}`).str(4, n.op);
  for (const [name, a] of Object.entries(n.attrs ?? {})) w.bytes(5, attributeProto(name, a));
  if (n.domain !== undefined) w.str(7, n.domain);
  return w.finish();
}

function valueInfoProto(v: ValueInfo): Uint8Array {
  const shape = new Writer();
  for (const d of v.shape) shape.bytes(1, typeof d === 'number' ? new Writer().int(1, d).finish() : new Writer().str(2, d).finish());
  const tensorType = new Writer().int(1, v.type).bytes(2, shape.finish()).finish();
  return new Writer().str(1, v.name).bytes(2, new Writer().bytes(1, tensorType).finish()).finish();
}

/** Serialises `m` as an ONNX ModelProto (IR version 9). */
export function encodeModel(m: Model): Uint8Array {
  const g = new Writer();
  m.nodes.forEach((n, i) => g.bytes(1, nodeProto(n, i)));
  g.str(2, 'gpt2');
  for (const t of m.initializers) g.bytes(5, tensorProto(t));
  for (const v of m.inputs) g.bytes(11, valueInfoProto(v));
  for (const v of m.outputs) g.bytes(12, valueInfoProto(v));
  const opset = new Writer().str(1, '').int(2, m.opset).finish();
  return new Writer().int(1, 9).str(2, 'baton-bench-peers').bytes(7, g.finish()).bytes(8, opset).finish();
}
