// KvEndpoint's in-place reads: whole layers of MiB-sized frames over TCP and a stream over a Unix
// socket arrive byte-for-byte in the decode pool, adopt, and leave both pools' free counts and the
// endpoint's channels where they started.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BlockPool } from './block-pool.js';
import { openKvReader } from './kv-channel.js';
import { KvConnector } from './kv-connector.js';
import { KvEndpoint, type KvEndpointOptions } from './kv-endpoint.js';
import { fillLayer, layerChecksum } from './testing/layer-checksum.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Streams `tokens` tokens of every layer from a fresh prefill pool into an endpoint listening as `listen` says. */
async function roundTrip(geometry: Parameters<typeof BlockPool.create>[0], tokens: number, listen: Omit<KvEndpointOptions, 'pool'>): Promise<void> {
  const nEmbd = geometry.heads * geometry.headDim;
  const prefill = BlockPool.create(geometry);
  const decode = BlockPool.create(geometry);
  const endpoint = await KvEndpoint.listen({ pool: decode, ...listen });
  cleanups.push(() => endpoint.close());
  const connector = new KvConnector({ pool: prefill });
  cleanups.push(() => connector.close());
  const table = prefill.createTable();
  expect(table.ensureCapacity(tokens)).toBe(true);
  for (let layer = 0; layer < geometry.layers; layer++) fillLayer(table, { layer, tokenCount: tokens, nEmbd, seed: 11 });
  const writer = connector.openWriter(endpoint.target, { table, tokenCount: tokens, sequenceId: 'big' });
  if (writer === null) throw new Error('no KV channel free');
  const reader = openKvReader(writer.ticket, { pool: decode, endpoint });
  for (let layer = 0; layer < geometry.layers; layer++) writer.publishLayer(layer);
  await writer.done;
  await reader.waitForLayer(geometry.layers - 1, { timeoutMs: 10_000 });
  const adopted = reader.adopt();
  for (let layer = 0; layer < geometry.layers; layer++) {
    expect(layerChecksum(adopted, { layer, tokenCount: tokens, nEmbd })).toBe(layerChecksum(table, { layer, tokenCount: tokens, nEmbd }));
  }
  adopted.release();
  table.release();
  expect(prefill.stats().free).toBe(geometry.totalBlocks);
  expect(decode.stats().free).toBe(geometry.totalBlocks);
  expect(endpoint.openChannels).toBe(0);
}

describe('KvEndpoint in-place reads', () => {
  it('MiB-sized Layer frames over TCP arrive byte-for-byte', async () => {
    // 32 KiB spans, 96 blocks: 3 MiB per layer, frames of 1 MiB (the connector's default).
    await roundTrip({ blockSize: 16, layers: 2, heads: 4, headDim: 64, totalBlocks: 100, handoffSlots: 2 }, 96 * 16 - 5, {});
  });

  it('a stream over a Unix socket arrives byte-for-byte', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kv-endpoint-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    await roundTrip({ blockSize: 4, layers: 3, heads: 2, headDim: 4, totalBlocks: 32, handoffSlots: 2 }, 37, { path: join(dir, 'kv.sock') });
  });
});
