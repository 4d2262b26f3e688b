/**
 * The safetensors file format (https://github.com/huggingface/safetensors): an 8-byte
 * little-endian header length, a JSON header mapping names to {dtype, shape, data_offsets}, then
 * the raw little-endian data. Reads F32, F16 and BF16 (converted to float32); writes any of them.
 * Invariant: every tensor returned has exactly prod(shape) float32 values.
 */
import { SafetensorsError } from './errors.js';

/** Storage dtypes supported for reading and writing. */
export type SafetensorsDtype = 'F32' | 'F16' | 'BF16';

/** A named float32 tensor. */
export interface NamedTensor {
  shape: number[];
  data: Float32Array;
}

const BYTES: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2 };

function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

function f32ToF16(value: number): number {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let r = mant >> shift;
    const rem = mant & ((1 << shift) - 1);
    if (rem > half || (rem === half && r & 1)) r++;
    return sign | r;
  }
  let r = mant >> 13;
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && r & 1)) {
    r++;
    if (r === 0x400) { r = 0; e++; if (e >= 31) return sign | 0x7c00; }
  }
  return sign | (e << 10) | r;
}

function f32ToBf16(value: number): number {
  f32[0] = value;
  const x = u32[0];
  if ((x & 0x7fffffff) > 0x7f800000) return (x >>> 16) | 0x40;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

function decode(bytes: Uint8Array, dtype: SafetensorsDtype, count: number): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(count);
  if (dtype === 'F32') {
    for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, true);
  } else if (dtype === 'F16') {
    for (let i = 0; i < count; i++) out[i] = f16ToF32(view.getUint16(i * 2, true));
  } else {
    for (let i = 0; i < count; i++) { u32[0] = view.getUint16(i * 2, true) << 16; out[i] = f32[0]; }
  }
  return out;
}

/** Parses a safetensors file; `file` names it in errors. */
export function parseSafetensors(bytes: Uint8Array, file: string): Map<string, NamedTensor> {
  if (bytes.byteLength < 8) throw new SafetensorsError(file, `truncated: ${bytes.byteLength} bytes, no header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = Number(view.getBigUint64(0, true));
  if (headerLen > bytes.byteLength - 8) {
    throw new SafetensorsError(file, `corrupt or truncated header: header length ${headerLen} exceeds file size ${bytes.byteLength}`);
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLen)));
  } catch (e) {
    throw new SafetensorsError(file, `corrupt header: not valid JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new SafetensorsError(file, 'corrupt header: not a JSON object');
  }
  const data = bytes.subarray(8 + headerLen);
  const out = new Map<string, NamedTensor>();
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') continue;
    out.set(name, parseEntry(file, name, entry, data));
  }
  return out;
}

function parseEntry(file: string, name: string, entry: unknown, data: Uint8Array): NamedTensor {
  const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
  if (typeof e !== 'object' || e === null) throw new SafetensorsError(file, `corrupt header entry for tensor "${name}"`);
  const dtype = e.dtype;
  if (dtype !== 'F32' && dtype !== 'F16' && dtype !== 'BF16') {
    throw new SafetensorsError(file, `tensor "${name}" has unsupported dtype ${JSON.stringify(dtype)} (supported: F32, F16, BF16)`);
  }
  const shape = e.shape;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new SafetensorsError(file, `tensor "${name}" has an invalid shape ${JSON.stringify(shape)}`);
  }
  const offs = e.data_offsets;
  if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isInteger(o) && o >= 0) || offs[1] < offs[0]) {
    throw new SafetensorsError(file, `tensor "${name}" has invalid data_offsets ${JSON.stringify(offs)}`);
  }
  const count = (shape as number[]).reduce((a, b) => a * b, 1);
  const [begin, end] = offs as [number, number];
  if (end - begin !== count * BYTES[dtype]) {
    throw new SafetensorsError(file, `tensor "${name}": data_offsets span ${end - begin} bytes, shape ${JSON.stringify(shape)} ${dtype} needs ${count * BYTES[dtype]}`);
  }
  if (end > data.byteLength) {
    throw new SafetensorsError(file, `truncated: tensor "${name}" ends at byte ${end} of the data section, which has ${data.byteLength} bytes`);
  }
  return { shape: shape as number[], data: decode(data.subarray(begin, end), dtype, count) };
}

/** Serialises tensors (in insertion order) to a safetensors file in `dtype`. */
export function serializeSafetensors(tensors: Map<string, NamedTensor>, dtype: SafetensorsDtype = 'F32'): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const [name, t] of tensors) {
    const size = t.data.length * BYTES[dtype];
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + size] };
    offset += size;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let pos = 8 + headerBytes.length;
  for (const t of tensors.values()) {
    for (let i = 0; i < t.data.length; i++) {
      if (dtype === 'F32') { view.setFloat32(pos, t.data[i], true); pos += 4; }
      else { view.setUint16(pos, dtype === 'F16' ? f32ToF16(t.data[i]) : f32ToBf16(t.data[i]), true); pos += 2; }
    }
  }
  return out;
}
