/**
 * HandoffBacking: the KvBacking a decode actor attaches a handed-off sequence to. Before adoption
 * it reads arrived layers straight from the KV channel's blocks (so layer i can be loaded while the
 * prefill actor still computes later layers); after adoption it is the sequence's own block table.
 *
 * Invariant: nothing is written before adoption (the blocks still belong to the channel), and the
 * pool bytes are never copied here: both phases read the same blocks of this actor's pool.
 */
import type { BlockTable, KvReader } from '@baton/kv-cache';
import type { KvBacking, KvKind } from '@baton/model';
import { EngineError } from '../errors.js';

/** KvBacking over a KV channel's reader, then over the adopted block table. */
export class HandoffBacking implements KvBacking {
  #table: BlockTable | null = null;

  constructor(
    private readonly consumer: KvReader,
    private readonly tokenCount: number,
  ) {}

  /** The adopted table, or null before adoption. */
  get table(): BlockTable | null {
    return this.#table;
  }

  get capacity(): number {
    return this.#table?.capacity ?? this.tokenCount;
  }

  /** Takes ownership of the channel's blocks (no copy); every layer must have arrived. */
  adopt(): BlockTable {
    this.#table ??= this.consumer.adopt();
    return this.#table;
  }

  write(layer: number, kind: KvKind, start: number, rows: Float32Array): void {
    if (this.#table === null) throw new EngineError(`KV write at position ${start} before the handoff was adopted`);
    this.#table.write(layer, kind, start, rows);
  }

  read(layer: number, kind: KvKind, start: number, end: number, out: Float32Array): void {
    (this.#table ?? this.consumer).read(layer, kind, start, end, out);
  }
}
