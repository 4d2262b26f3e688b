/**
 * A reader for the character vectors in an R package's lazy-load data (`data/Rdata.rdx` +
 * `data/Rdata.rdb`), the form in which Debian's `r-cran-*` data packages ship their data sets.
 * The `.rdx` index is a gzip'd R serialization of a list naming each variable's [offset, length]
 * in the `.rdb`; each `.rdb` record is a 4-byte big-endian uncompressed length followed by a zlib
 * stream holding one serialized object. Only what such data sets use is decoded (XDR format,
 * versions 2 and 3: NULL, pairlists, symbols, references, character/integer/logical/double vectors
 * and lists); anything else fails with a TrainError naming the type.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, inflateSync } from 'node:zlib';
import { TrainError } from './errors.js';

/** A decoded R value: strings (NA as null), numbers, lists, symbols, or NULL. */
export type RValue =
  | { type: 'null' }
  | { type: 'symbol'; name: string }
  | { type: 'strings'; values: (string | null)[]; attributes: Map<string, RValue> }
  | { type: 'numbers'; values: number[]; attributes: Map<string, RValue> }
  | { type: 'list'; values: RValue[]; attributes: Map<string, RValue> }
  | { type: 'pairlist'; entries: { tag: string | null; value: RValue }[] };

const NIL = 254;
const REF = 255;
const GLOBALENV = 253;
const EMPTYENV = 242;
const BASEENV = 241;

class XdrReader {
  #pos = 0;
  readonly #refs: RValue[] = [];
  constructor(private readonly buf: Buffer, private readonly source: string) {}

  int(): number {
    const v = this.buf.readInt32BE(this.#pos);
    this.#pos += 4;
    return v;
  }

  header(): void {
    if (this.buf.subarray(0, 2).toString('latin1') !== 'X\n') throw new TrainError(`${this.source}: not an R XDR serialization`);
    this.#pos = 2;
    const version = this.int();
    this.int();
    this.int();
    if (version === 3) {
      const nativeEncodingLength = this.int();
      this.#pos += nativeEncodingLength;
    }
    else if (version !== 2) throw new TrainError(`${this.source}: R serialization version ${version} is not supported`);
  }

  item(): RValue {
    const flags = this.int();
    const type = flags & 0xff;
    const hasAttr = (flags & (1 << 9)) !== 0;
    switch (type) {
      case NIL: case GLOBALENV: case EMPTYENV: case BASEENV: return { type: 'null' };
      case REF: return this.#refs[(flags >> 8 === 0 ? this.int() : flags >> 8) - 1];
      case 1: { // SYMSXP: a CHARSXP with its own flags
        this.int();
        const name = this.charsxp() ?? '';
        const sym: RValue = { type: 'symbol', name };
        this.#refs.push(sym);
        return sym;
      }
      case 2: { // LISTSXP (pairlist)
        const entries: { tag: string | null; value: RValue }[] = [];
        let f = flags;
        for (;;) {
          if ((f & (1 << 9)) !== 0) this.item();
          const tagValue = (f & (1 << 10)) !== 0 ? this.item() : null;
          entries.push({ tag: tagValue?.type === 'symbol' ? tagValue.name : null, value: this.item() });
          f = this.int();
          if ((f & 0xff) === NIL) break;
          if ((f & 0xff) !== 2) throw new TrainError(`${this.source}: pairlist continues with type ${f & 0xff}`);
        }
        return { type: 'pairlist', entries };
      }
      case 16: { // STRSXP
        const n = this.int();
        const values: (string | null)[] = [];
        for (let i = 0; i < n; i++) { this.int(); values.push(this.charsxp()); }
        return { type: 'strings', values, attributes: this.attributes(hasAttr) };
      }
      case 10: case 13: { // LGLSXP, INTSXP
        const n = this.int();
        const values: number[] = [];
        for (let i = 0; i < n; i++) values.push(this.int());
        return { type: 'numbers', values, attributes: this.attributes(hasAttr) };
      }
      case 14: { // REALSXP
        const n = this.int();
        const values: number[] = [];
        for (let i = 0; i < n; i++) { values.push(this.buf.readDoubleBE(this.#pos)); this.#pos += 8; }
        return { type: 'numbers', values, attributes: this.attributes(hasAttr) };
      }
      case 19: { // VECSXP
        const n = this.int();
        const values: RValue[] = [];
        for (let i = 0; i < n; i++) values.push(this.item());
        return { type: 'list', values, attributes: this.attributes(hasAttr) };
      }
      default:
        throw new TrainError(`${this.source}: R object type ${type} is not supported by this reader`);
    }
  }

  /** A CHARSXP body after its flags: length (-1 for NA) and bytes (UTF-8 or Latin-1 text). */
  private charsxp(): string | null {
    const n = this.int();
    if (n === -1) return null;
    const s = this.buf.subarray(this.#pos, this.#pos + n).toString('utf8');
    this.#pos += n;
    return s;
  }

  private attributes(present: boolean): Map<string, RValue> {
    const out = new Map<string, RValue>();
    if (!present) return out;
    const list = this.item();
    if (list.type === 'pairlist') for (const e of list.entries) if (e.tag !== null) out.set(e.tag, e.value);
    return out;
  }
}

function unserialize(buf: Buffer, source: string): RValue {
  const r = new XdrReader(buf, source);
  r.header();
  return r.item();
}

/**
 * Reads every character-vector variable of an R package's lazy-load data directory (`dir`
 * holding Rdata.rdx and Rdata.rdb), keyed by variable name.
 */
export function readRDataStrings(dir: string): Map<string, string[]> {
  const rdxPath = join(dir, 'Rdata.rdx');
  const rdbPath = join(dir, 'Rdata.rdb');
  const index = unserialize(gunzipSync(readFileSync(rdxPath)), rdxPath);
  if (index.type !== 'list') throw new TrainError(`${rdxPath}: the index is not a list`);
  const names = index.attributes.get('names');
  const variables = index.values[names?.type === 'strings' ? names.values.indexOf('variables') : -1];
  if (variables === undefined || variables.type !== 'list') throw new TrainError(`${rdxPath}: no "variables" entry`);
  const varNames = variables.attributes.get('names');
  if (varNames?.type !== 'strings') throw new TrainError(`${rdxPath}: the variables have no names`);
  const rdb = readFileSync(rdbPath);
  const out = new Map<string, string[]>();
  variables.values.forEach((v, i) => {
    if (v.type !== 'numbers' || v.values.length !== 2) throw new TrainError(`${rdxPath}: variable ${i} has no [offset, length]`);
    const [offset, length] = v.values;
    const record = rdb.subarray(offset + 4, offset + length);
    const value = unserialize(inflateSync(record), `${rdbPath}@${offset}`);
    if (value.type === 'strings') out.set(varNames.values[i] ?? `#${i}`, value.values.map((s) => s ?? ''));
  });
  return out;
}
