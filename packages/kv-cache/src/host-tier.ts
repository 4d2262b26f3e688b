/**
 * The host-memory tier of the memory pool: KV of cached blocks swapped out of the shared pool,
 * kept in ordinary memory of this thread, bounded by a block count, least recently used first
 * out. Entries are whole blocks (every layer's span) with the chain identity they were indexed
 * under, so a swap-in restores exactly the bytes and the index entry.
 */

/** One cached block outside the shared pool. */
export interface SwappedBlock {
  /** Chain key (hex, block-key.ts) and parent key of the block. */
  readonly key: string;
  readonly parent: string;
  /** The block's token ids (blockSize). */
  readonly tokens: Int32Array;
  /** Every layer's span of the block, layer-major (layers x spanFloats floats). */
  readonly data: Float32Array;
}

/** LRU map of swapped-out blocks with a capacity in blocks. */
export class HostTier {
  readonly #blocks = new Map<string, SwappedBlock>();

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.#blocks.size;
  }

  get bytes(): number {
    let n = 0;
    for (const block of this.#blocks.values()) n += block.data.byteLength;
    return n;
  }

  has(key: string): boolean {
    return this.#blocks.has(key);
  }

  /** Keys, least recently used first. */
  keys(): string[] {
    return [...this.#blocks.keys()];
  }

  /** Adds (or refreshes) a block; returns the least recently used blocks pushed out to stay in capacity. */
  put(block: SwappedBlock): SwappedBlock[] {
    this.#blocks.delete(block.key);
    this.#blocks.set(block.key, block);
    const out: SwappedBlock[] = [];
    for (const [key, oldest] of this.#blocks) {
      if (this.#blocks.size <= this.capacity) break;
      this.#blocks.delete(key);
      out.push(oldest);
    }
    return out;
  }

  /** Removes and returns a block, or null. */
  take(key: string): SwappedBlock | null {
    const block = this.#blocks.get(key);
    if (block === undefined) return null;
    this.#blocks.delete(key);
    return block;
  }

  delete(key: string): boolean {
    return this.#blocks.delete(key);
  }

  clear(): string[] {
    const keys = [...this.#blocks.keys()];
    this.#blocks.clear();
    return keys;
  }
}
