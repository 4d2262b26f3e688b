/**
 * The decode side of a KV channel for tests and the bench, run either as a worker thread (thread
 * placement: it attaches the parent's pool, so tickets are 'shared') or as a forked child process
 * (process placement: its own pool and a KvEndpoint on loopback TCP, so tickets are 'stream').
 * For each 'read' it opens the reader, waits for the layers in order (optionally reporting each
 * layer's CRC32 as soon as it is here), adopts, reports, and releases the blocks; 'stats' reports
 * its pool's free count.
 */
import { parentPort } from 'node:worker_threads';
import { BlockPool } from '../block-pool.js';
import { KvCacheError } from '../errors.js';
import { openKvReader } from '../kv-channel.js';
import { KvEndpoint } from '../kv-endpoint.js';
import { layerChecksum } from './layer-checksum.js';
import type { ChannelPeerReply, ChannelPeerRequest } from '../protocol.js';

const reply = (message: ChannelPeerReply): void => {
  if (parentPort !== null) parentPort.postMessage(message);
  else process.send?.(message);
};

let pool: BlockPool | null = null;
let endpoint: KvEndpoint | null = null;

async function read(request: Extract<ChannelPeerRequest, { type: 'read' }>): Promise<void> {
  if (pool === null) throw new Error('read before attach/listen');
  const reader = openKvReader(request.ticket, { pool, endpoint: endpoint ?? undefined });
  const { layers, heads, headDim } = pool.geometry;
  const nEmbd = heads * headDim;
  const layerChecksums: number[] = [];
  for (let layer = 0; layer < layers; layer++) {
    await reader.waitForLayer(layer, { timeoutMs: request.timeoutMs });
    if (!request.reportLayers) continue;
    const checksum = layerChecksum(reader, { layer, tokenCount: reader.tokenCount, nEmbd });
    layerChecksums.push(checksum);
    reply({ type: 'layer', layer, checksum });
  }
  const table = reader.adopt();
  const at = performance.timeOrigin + performance.now();
  table.release();
  reply({ type: 'held', at, layerChecksums });
}

async function handle(request: ChannelPeerRequest): Promise<void> {
  switch (request.type) {
    case 'attach':
      pool = BlockPool.attach(request.handle);
      return reply({ type: 'ready', target: { kind: 'shared' } });
    case 'listen':
      pool = BlockPool.create(request.geometry);
      endpoint = await KvEndpoint.listen({ pool });
      return reply({ type: 'ready', target: endpoint.target });
    case 'read':
      return read(request);
    case 'stats':
      if (pool === null) throw new Error('stats before attach/listen');
      return reply({ type: 'stats', free: pool.stats().free });
    case 'exit':
      await endpoint?.close();
      if (parentPort !== null) parentPort.close();
      else process.exit(0);
  }
}

const onMessage = (request: ChannelPeerRequest): void => {
  handle(request).catch((error: unknown) => {
    reply({ type: 'failed', code: error instanceof KvCacheError ? error.code : 'UNEXPECTED', message: String(error) });
  });
};
if (parentPort !== null) parentPort.on('message', onMessage);
else process.on('message', onMessage);
