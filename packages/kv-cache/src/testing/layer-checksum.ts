/**
 * Test helper: CRC32 of one layer's K then V rows for tokens [0, tokenCount), read through any
 * KvBacking-shaped reader, so tests compare KV bytes across threads and processes.
 */
import { crc32 } from 'node:zlib';
import type { KvKind } from '../block-table.js';

/** Anything that reads rows like BlockTable.read / HandoffConsumer.read. */
export interface RowReader {
  read(layer: number, kind: KvKind, start: number, end: number, out: Float32Array): void;
}

/** CRC32 of layer `layer`'s K and V rows. */
export function layerChecksum(reader: RowReader, options: { layer: number; tokenCount: number; nEmbd: number }): number {
  const rows = new Float32Array(options.tokenCount * options.nEmbd);
  let checksum = 0;
  for (const kind of ['k', 'v'] as const) {
    reader.read(options.layer, kind, 0, options.tokenCount, rows);
    checksum = crc32(new Uint8Array(rows.buffer), checksum);
  }
  return checksum;
}

/** Deterministic KV content: row value of (layer, kind, token, i) mixes a seed. */
export function fillLayer(
  writer: { write(layer: number, kind: KvKind, start: number, rows: Float32Array): void },
  options: { layer: number; tokenCount: number; nEmbd: number; seed: number },
): void {
  const { layer, tokenCount, nEmbd, seed } = options;
  for (const kind of ['k', 'v'] as const) {
    const rows = new Float32Array(tokenCount * nEmbd);
    for (let i = 0; i < rows.length; i++) rows[i] = Math.sin(seed + layer * 7919 + (kind === 'k' ? 0 : 104729) + i);
    writer.write(layer, kind, 0, rows);
  }
}
