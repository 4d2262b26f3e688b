/**
 * Worker thread that consumes an in-process handoff: waits for each layer (Atomics.waitAsync),
 * optionally reads and checksums it as soon as it is published, then adopts the blocks and
 * releases them, reporting every step to its parent.
 */
import { parentPort } from 'node:worker_threads';
import { BlockPool } from '../block-pool.js';
import { KvCacheError } from '../errors.js';
import { layerChecksum } from './layer-checksum.js';
import type { ConsumeReply, ConsumeRequest } from '../protocol.js';

async function consume(request: ConsumeRequest, reply: (message: ConsumeReply) => void): Promise<void> {
  const pool = BlockPool.attach(request.handle);
  const consumer = pool.acceptHandoff(request.descriptor);
  const { layers, heads, headDim } = pool.geometry;
  for (let layer = 0; layer < layers; layer++) {
    await consumer.waitForLayer(layer, { timeoutMs: request.timeoutMs });
    if (!request.verify) continue;
    const layersReadyAtRead = consumer.layersReady;
    const checksum = layerChecksum(consumer, { layer, tokenCount: request.descriptor.tokenCount, nEmbd: heads * headDim });
    reply({ type: 'layer', layer, checksum, layersReadyAtRead });
  }
  const table = consumer.adopt();
  reply({ type: 'adopted', blockCount: table.blockIds.length, blockIds: request.verify ? [...table.blockIds] : null });
  table.release();
  reply({ type: 'released' });
}

parentPort?.on('message', (request: ConsumeRequest) => {
  const reply = (message: ConsumeReply): void => parentPort?.postMessage(message);
  consume(request, reply).catch((error: unknown) => {
    const code = error instanceof KvCacheError ? error.code : 'UNEXPECTED';
    reply({ type: 'consume-failed', code, message: String(error) });
  });
});
