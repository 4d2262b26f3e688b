/**
 * In-process handoff to another thread: the consumer worker reads layer i while the producer (this
 * thread) has not yet written layer i + 1, then adopts the blocks without a copy.
 */
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { BlockPool } from '@baton/kv-cache';
import { fillLayer, layerChecksum } from '../../packages/kv-cache/src/testing/layer-checksum.js';
import type { ConsumeReply, ConsumeRequest } from '../../packages/kv-cache/src/protocol.js';

const workerUrl = new URL('../../packages/kv-cache/dist/testing/handoff-consumer-worker.js', import.meta.url);
const workers: Worker[] = [];

afterEach(async () => {
  await Promise.all(workers.splice(0).map((worker) => worker.terminate()));
});

const geometry = { blockSize: 16, layers: 4, heads: 4, headDim: 8, totalBlocks: 32 };
const nEmbd = 32;

function nextMessage(worker: Worker): Promise<ConsumeReply> {
  return (once(worker, 'message') as Promise<[ConsumeReply]>).then(([message]) => message);
}

describe('layer-wise handoff between threads', () => {
  it('lets the consumer read each layer before the producer finishes, bytes equal', async () => {
    const pool = BlockPool.create(geometry);
    const table = pool.createTable();
    expect(table.ensureCapacity(70)).toBe(true);
    const producer = pool.openHandoff(table, { tokenCount: 70, sequenceId: 'req-1' });
    if (producer === null) throw new Error('no handoff slot');
    const worker = new Worker(workerUrl);
    workers.push(worker);
    const request: ConsumeRequest = { type: 'consume', handle: pool.handle, descriptor: producer.descriptor, timeoutMs: 20_000, verify: true };
    worker.postMessage(request);
    for (let layer = 0; layer < geometry.layers; layer++) {
      fillLayer(table, { layer, tokenCount: 70, nEmbd, seed: 11 });
      producer.publishLayer(layer);
      const message = await nextMessage(worker);
      expect(message).toMatchObject({ type: 'layer', layer, layersReadyAtRead: layer + 1 });
      if (message.type === 'layer') expect(message.checksum).toBe(layerChecksum(table, { layer, tokenCount: 70, nEmbd }));
    }
    table.release();
    expect(await nextMessage(worker)).toEqual({ type: 'adopted', blockCount: 5, blockIds: [...producer.descriptor.blockIds] });
    expect(await nextMessage(worker)).toEqual({ type: 'released' });
    expect(pool.stats()).toMatchObject({ used: 0, free: 32 });
  });

  it('a producer that gives up leaves nothing adoptable and no reference behind', async () => {
    const pool = BlockPool.create(geometry);
    const table = pool.createTable();
    table.ensureCapacity(40);
    const producer = pool.openHandoff(table, { tokenCount: 40 });
    if (producer === null) throw new Error('no handoff slot');
    const worker = new Worker(workerUrl);
    workers.push(worker);
    worker.postMessage({ type: 'consume', handle: pool.handle, descriptor: producer.descriptor, timeoutMs: 20_000, verify: true } satisfies ConsumeRequest);
    fillLayer(table, { layer: 0, tokenCount: 40, nEmbd, seed: 3 });
    producer.publishLayer(0);
    expect(await nextMessage(worker)).toMatchObject({ type: 'layer', layer: 0 });
    producer.cancel();
    table.release();
    expect(await nextMessage(worker)).toMatchObject({ type: 'consume-failed', code: 'HANDOFF_CANCELLED' });
    expect(pool.stats()).toMatchObject({ used: 0, free: 32 });
  });

  it('a consumer deadline cancels the handoff and releases its references', async () => {
    const pool = BlockPool.create(geometry);
    const table = pool.createTable();
    table.ensureCapacity(20);
    const producer = pool.openHandoff(table, { tokenCount: 20 });
    if (producer === null) throw new Error('no handoff slot');
    table.release();
    const worker = new Worker(workerUrl);
    workers.push(worker);
    worker.postMessage({ type: 'consume', handle: pool.handle, descriptor: producer.descriptor, timeoutMs: 50, verify: true } satisfies ConsumeRequest);
    expect(await nextMessage(worker)).toMatchObject({ type: 'consume-failed', code: 'HANDOFF_TIMEOUT' });
    expect(producer.state).toBe('cancelled');
    expect(() => producer.publishLayer(0)).toThrow(/cancelled/);
    expect(pool.stats()).toMatchObject({ used: 0, free: 32 });
  });
});
