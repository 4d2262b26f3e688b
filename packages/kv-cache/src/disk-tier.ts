/**
 * The disk tier of the memory pool: one file per swapped-out block in a private directory made
 * under the configured one (removed on close), bounded in bytes (least recently written out
 * first), each file checksummed. A file that is missing, truncated, corrupt, or holds another
 * block than the index says is a miss (its entry and file are dropped), never served.
 *
 * File layout (little-endian): u32 magic "KVD1", u32 float count, u32 token count, u32 CRC32 of
 * every byte after this header word, u32 x2 parent key, u32 x2 key, int32 tokens, float32 data.
 * Writes go to a temporary name and are renamed into place; until a write finished, the block is
 * served from the memory it was written from. A key's file operations (write, removal, read) run
 * one after another, so a block dropped and written out again never loses its new file to the
 * old one's late removal; a write that fails is reported (`onLost`), never dropped silently.
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
}

/** Why a read was a miss, for accounting. */
export type DiskMiss = 'absent' | 'corrupt';

/** Bounded, checksummed block files. */
export class DiskTier {
  readonly dir: string;
  readonly #entries = new Map<string, DiskEntry>();
  /**
   * Per key, the last file operation queued (write, removal, read): a key's operations run one
   * after another, so a late removal or rename of an older write never touches a newer file.
   */
  readonly #tails = new Map<string, Promise<void>>();
  #bytes = 0;
  #corrupt = 0;

  /**
   * @param parent the directory to make the private one under
   * @param maxBytes bound on the block files' bytes
   * @param onLost told of a block whose file could not be written (disk full, directory removed): it is gone from this tier
   */
  constructor(
    parent: string,
    readonly maxBytes: number,
    private readonly onLost: (key: string) => void = () => undefined,
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
    const entry: DiskEntry = { key: block.key, bytes: file.length, pending: block };
    const current = (): boolean => this.#entries.get(block.key) === entry;
    void this.#serial(block.key, async () => {
      try {
        // NOTE: dropped before its turn came: nothing to write.
        if (!current()) return;
        await writeFile(tmp, file);
        await rename(tmp, path);
        entry.pending = null;
        // NOTE: dropped (or taken) while being written: the file goes now, before any later operation on the key.
        if (!current()) await unlink(path).catch(() => undefined);
      } catch {
        await unlink(tmp).catch(() => undefined);
        // NOTE: a failed write (disk full, dir removed) leaves no usable file: the block is gone.
        if (current()) {
          this.#entries.delete(block.key);
          this.#bytes -= entry.bytes;
          this.onLost(block.key);
        }
      }
    });
    this.#entries.set(block.key, entry);
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
    const file = await this.#serial(key, async () => {
      try {
        const bytes = await readFile(path);
        await unlink(path).catch(() => undefined);
        return bytes;
      } catch {
        return null;
      }
    });
    const block = file === null ? null : decode(file, expect.floats);
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
    if (entry.pending !== null) return true;
    const path = this.pathOf(key);
    if (sync) {
      try {
        unlinkSync(path);
      } catch {
        // NOTE: already gone (removed by hand): nothing to drop.
      }
    } else void this.#serial(key, () => unlink(path).catch(() => undefined));
    return true;
  }

  /** Waits for every file operation queued, dropped blocks' too (so their files are gone once it resolves). */
  async flush(): Promise<void> {
    while (this.#tails.size > 0) await Promise.all([...this.#tails.values()]);
  }

  /** Drops everything; returns the keys dropped. Written files are gone when it returns; files still being written go once written (see flush). */
  clear(): string[] {
    const keys = [...this.#entries.keys()];
    for (const key of keys) this.delete(key, true);
    return keys;
  }

  /** Removes the directory and every file in it (after file operations in flight). */
  async close(): Promise<void> {
    await this.flush();
    this.#entries.clear();
    this.#bytes = 0;
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Runs `op` after every operation queued before it on `key`'s file. */
  #serial<T>(key: string, op: () => Promise<T>): Promise<T> {
    const result = (this.#tails.get(key) ?? Promise.resolve()).then(op);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.#tails.set(key, tail);
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return result;
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
