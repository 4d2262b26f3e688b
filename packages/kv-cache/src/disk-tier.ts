/**
 * The disk tier of the memory pool: one file per swapped-out block in a private directory made
 * under the configured one (removed on close), bounded in bytes (least recently written out
 * first), each file checksummed. A file that is missing, truncated, corrupt, or holds another
 * block than the index says is a miss (its entry and file are dropped), never served.
 *
 * File layout (little-endian): u32 magic "KVD1", u32 float count, u32 token count, u32 CRC32 of
 * every byte after this header word, u32 x2 parent key, u32 x2 key, int32 tokens, float32 data.
 * Writes go to a temporary name and are renamed into place; until a write finished, the block is
 * served from the memory it was written from.
 */
import { mkdtempSync, rmSync, unlinkSync } from 'node:fs';
import { readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import type { SwappedBlock } from './host-tier.js';

const MAGIC = 0x3144564b;
const HEADER_BYTES = 32;

interface DiskEntry {
  readonly key: string;
  readonly bytes: number;
  /** The block while its file is being written; null once on disk. */
  pending: SwappedBlock | null;
  readonly written: Promise<void>;
}

/** Why a read was a miss, for accounting. */
export type DiskMiss = 'absent' | 'corrupt';

/** Bounded, checksummed block files. */
export class DiskTier {
  readonly dir: string;
  readonly #entries = new Map<string, DiskEntry>();
  /** Writes in flight, of entries still here or already dropped (whose completion removes the file). */
  readonly #inflight = new Set<Promise<void>>();
  #bytes = 0;
  #corrupt = 0;

  constructor(
    parent: string,
    readonly maxBytes: number,
  ) {
    this.dir = mkdtempSync(join(parent, 'baton-kv-'));
  }

  get size(): number {
    return this.#entries.size;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** Files found truncated or corrupt (each served as a miss). */
  get corrupt(): number {
    return this.#corrupt;
  }

  has(key: string): boolean {
    return this.#entries.has(key);
  }

  /** The file a block is (or will be) stored in. */
  pathOf(key: string): string {
    return join(this.dir, `${key}.kvb`);
  }

  /**
   * Writes a block out (asynchronously); returns the keys of the least recently written blocks
   * dropped to stay within maxBytes (this one too, if it alone is larger).
   */
  put(block: SwappedBlock): string[] {
    this.delete(block.key);
    const file = encode(block);
    const dropped: string[] = [];
    if (file.length > this.maxBytes) return [block.key];
    for (const key of this.#entries.keys()) {
      if (this.#bytes + file.length <= this.maxBytes) break;
      this.delete(key);
      dropped.push(key);
    }
    const path = this.pathOf(block.key);
    const tmp = `${path}.tmp`;
    const entry: DiskEntry = {
      key: block.key,
      bytes: file.length,
      pending: block,
      written: writeFile(tmp, file)
        .then(() => rename(tmp, path))
        .then(() => {
          entry.pending = null;
          if (this.#entries.get(block.key) !== entry) return unlink(path).catch(() => undefined);
        })
        .catch(() => {
          // NOTE: a failed write (disk full, dir removed) leaves no usable file: the block is gone.
          if (this.#entries.get(block.key) === entry) this.delete(block.key);
        }),
    };
    this.#entries.set(block.key, entry);
    this.#inflight.add(entry.written);
    void entry.written.then(() => this.#inflight.delete(entry.written));
    this.#bytes += file.length;
    return dropped;
  }

  /**
   * Reads a block back and removes it from this tier. Null (a miss) when it is not here, or its
   * file is truncated, corrupt or names another block than `expect`.
   */
  async take(key: string, expect: { parent: string; tokens: ArrayLike<number>; floats: number }): Promise<SwappedBlock | null> {
    const entry = this.#entries.get(key);
    if (entry === undefined) return null;
    this.#entries.delete(key);
    this.#bytes -= entry.bytes;
    if (entry.pending !== null) {
      // NOTE: the write still runs; its completion sees the entry gone and removes the file.
      return same(entry.pending, key, expect) ? entry.pending : null;
    }
    const path = this.pathOf(key);
    let file: Buffer;
    try {
      file = await readFile(path);
    } catch {
      this.#corrupt++;
      return null;
    }
    // NOTE: awaited, so a block put back after this read gets a file no late unlink can remove.
    await unlink(path).catch(() => undefined);
    const block = decode(file, expect.floats);
    if (block === null || !same(block, key, expect)) {
      this.#corrupt++;
      return null;
    }
    return block;
  }

  /**
   * Drops a block (its file is removed once written). `sync`: a written file is gone when this
   * returns (else it is removed in the background).
   */
  delete(key: string, sync = false): boolean {
    const entry = this.#entries.get(key);
    if (entry === undefined) return false;
    this.#entries.delete(key);
    this.#bytes -= entry.bytes;
    if (entry.pending === null && sync) {
      try {
        unlinkSync(this.pathOf(key));
      } catch {
        // NOTE: already gone (removed by hand): nothing to drop.
      }
    } else if (entry.pending === null) void unlink(this.pathOf(key)).catch(() => undefined);
    return true;
  }

  /** Waits for every write in flight, dropped blocks' too (so their files are gone once it resolves). */
  async flush(): Promise<void> {
    await Promise.all([...this.#inflight]);
  }

  /** Drops everything; returns the keys dropped. Written files are gone when it returns; files still being written go once written (see flush). */
  clear(): string[] {
    const keys = [...this.#entries.keys()];
    for (const key of keys) this.delete(key, true);
    return keys;
  }

  /** Removes the directory and every file in it (after writes in flight). */
  async close(): Promise<void> {
    await this.flush();
    this.#entries.clear();
    this.#bytes = 0;
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function same(block: SwappedBlock, key: string, expect: { parent: string; tokens: ArrayLike<number>; floats: number }): boolean {
  if (block.key !== key || block.parent !== expect.parent || block.tokens.length !== expect.tokens.length) return false;
  if (block.data.length !== expect.floats) return false;
  for (let i = 0; i < block.tokens.length; i++) if (block.tokens[i] !== (expect.tokens[i] | 0)) return false;
  return true;
}

const hexWords = (hex: string): [number, number] => [parseInt(hex.slice(0, 8), 16) >>> 0, parseInt(hex.slice(8, 16), 16) >>> 0];
const wordsHex = (hi: number, lo: number): string => hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0');

function encode(block: SwappedBlock): Buffer {
  const tokenBytes = block.tokens.length * 4;
  const file = Buffer.allocUnsafe(HEADER_BYTES + tokenBytes + block.data.byteLength);
  file.writeUInt32LE(MAGIC, 0);
  file.writeUInt32LE(block.data.length, 4);
  file.writeUInt32LE(block.tokens.length, 8);
  const [phi, plo] = hexWords(block.parent);
  const [khi, klo] = hexWords(block.key);
  file.writeUInt32LE(phi, 16);
  file.writeUInt32LE(plo, 20);
  file.writeUInt32LE(khi, 24);
  file.writeUInt32LE(klo, 28);
  Buffer.from(block.tokens.buffer, block.tokens.byteOffset, tokenBytes).copy(file, HEADER_BYTES);
  Buffer.from(block.data.buffer, block.data.byteOffset, block.data.byteLength).copy(file, HEADER_BYTES + tokenBytes);
  file.writeUInt32LE(crc32(file.subarray(16)), 12);
  return file;
}

function decode(file: Buffer, floats: number): SwappedBlock | null {
  if (file.length < HEADER_BYTES || file.readUInt32LE(0) !== MAGIC) return null;
  const count = file.readUInt32LE(4);
  const tokenCount = file.readUInt32LE(8);
  if (count !== floats || file.length !== HEADER_BYTES + tokenCount * 4 + count * 4) return null;
  if (crc32(file.subarray(16)) !== file.readUInt32LE(12)) return null;
  const tokens = new Int32Array(tokenCount);
  Buffer.from(tokens.buffer).set(file.subarray(HEADER_BYTES, HEADER_BYTES + tokenCount * 4));
  const data = new Float32Array(count);
  Buffer.from(data.buffer).set(file.subarray(HEADER_BYTES + tokenCount * 4));
  return {
    parent: wordsHex(file.readUInt32LE(16), file.readUInt32LE(20)),
    key: wordsHex(file.readUInt32LE(24), file.readUInt32LE(28)),
    tokens,
    data,
  };
}
