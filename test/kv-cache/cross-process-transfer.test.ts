/**
 * Cross-process handoff: this process streams a sequence's KV over loopback TCP into a forked
 * child's own pool; the child's per-layer checksums of what it adopted equal ours.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { BlockPool, KvTransferSender, TransferRejectedError } from '@baton/kv-cache';
import { fillLayer, layerChecksum } from '../../packages/kv-cache/src/testing/layer-checksum.js';
import type { ChildReply, ChildRequest } from '../../packages/kv-cache/src/protocol.js';

const childPath = fileURLToPath(new URL('../../packages/kv-cache/dist/testing/transfer-child.js', import.meta.url));
const children: ChildProcess[] = [];

afterEach(() => {
  for (const child of children.splice(0)) child.kill();
});

const geometry = { blockSize: 16, layers: 4, heads: 4, headDim: 16, totalBlocks: 64 };
const nEmbd = 64;

async function startChild(request: ChildRequest): Promise<{ child: ChildProcess; port: number; next: () => Promise<ChildReply> }> {
  const child = fork(childPath, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.push(child);
  const next = async (): Promise<ChildReply> => ((await once(child, 'message')) as [ChildReply])[0];
  const listening = next();
  child.send(request);
  const reply = await listening;
  if (reply.type !== 'listening') throw new Error(`child replied ${reply.type}`);
  return { child, port: reply.port, next };
}

describe('cross-process KV transfer', () => {
  it('delivers every layer byte-for-byte into the child pool (checksums equal), up to a full pool', async () => {
    const { port, next } = await startChild({ type: 'listen-pool', geometry: { ...geometry, handoffSlots: 4 } });
    const pool = BlockPool.create(geometry);
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    const sender = new KvTransferSender({ pool, socket, maxFrameBytes: 64 * 1024 });
    try {
      for (const [sequenceId, tokenCount] of [[1, 200], [2, 17], [3, 1]] as const) {
        const table = pool.createTable();
        table.ensureCapacity(tokenCount);
        for (let layer = 0; layer < geometry.layers; layer++) fillLayer(table, { layer, tokenCount, nEmbd, seed: sequenceId });
        const expected = Array.from({ length: geometry.layers }, (_, layer) => layerChecksum(table, { layer, tokenCount, nEmbd }));
        const received = next();
        await sender.send({ sequenceId, blockIds: table.blockIds, tokenCount });
        expect(await received).toEqual({ type: 'received', sequenceId, layerChecksums: expected, used: 0 });
        table.release();
      }
      const whole = pool.createTable();
      whole.ensureCapacity(64 * 16);
      await expect(sender.send({ sequenceId: 9, blockIds: whole.blockIds, tokenCount: 64 * 16 })).resolves.toBeUndefined();
      whole.release();
    } finally {
      socket.destroy();
    }
  });

  it('is refused with a typed error when the child pool cannot hold the sequence', async () => {
    const { port } = await startChild({ type: 'listen-pool', geometry: { ...geometry, totalBlocks: 4, handoffSlots: 4 } });
    const pool = BlockPool.create(geometry);
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    try {
      const table = pool.createTable();
      table.ensureCapacity(100);
      const sender = new KvTransferSender({ pool, socket });
      await expect(sender.send({ sequenceId: 1, blockIds: table.blockIds, tokenCount: 100 })).rejects.toBeInstanceOf(TransferRejectedError);
      table.release();
    } finally {
      socket.destroy();
    }
  });
});
