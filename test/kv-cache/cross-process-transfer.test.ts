/**
 * Cross-process handoff: this process streams a sequence's KV over loopback TCP into a forked
 * child's own pool; the child's per-layer checksums of what it adopted equal ours. Both ways of
 * connecting: the child's receiver listens (copies socket chunks), or dials us (reads in place).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { BlockPool, KvTransferSender, TransferRejectedError } from '@baton/kv-cache';
import { fillLayer, layerChecksum } from '../../packages/kv-cache/src/testing/layer-checksum.js';
import { listenOnce } from '../../packages/kv-cache/src/testing/loopback.js';
import type { ChildReply, ChildRequest } from '../../packages/kv-cache/src/protocol.js';

const childPath = fileURLToPath(new URL('../../packages/kv-cache/dist/testing/transfer-child.js', import.meta.url));
const children: ChildProcess[] = [];

afterEach(() => {
  for (const child of children.splice(0)) child.kill();
});

const geometry = { blockSize: 16, layers: 4, heads: 4, headDim: 16, totalBlocks: 64 };
const nEmbd = 64;

async function startChild(request: ChildRequest, expect: ChildReply['type']): Promise<{ child: ChildProcess; reply: ChildReply; next: () => Promise<ChildReply> }> {
  const child = fork(childPath, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.push(child);
  const next = async (): Promise<ChildReply> => ((await once(child, 'message')) as [ChildReply])[0];
  const first = next();
  child.send(request);
  const reply = await first;
  if (reply.type !== expect) throw new Error(`child replied ${JSON.stringify(reply)}`);
  return { child, reply, next };
}

/** A child pool with `geometry` and our socket to its receiver, which listens or dials us. */
async function childReceiver(mode: 'listen' | 'dial', childGeometry: ChildGeometry): Promise<{ socket: Socket; next: () => Promise<ChildReply> }> {
  if (mode === 'listen') {
    const { reply, next } = await startChild({ type: 'listen-pool', geometry: childGeometry }, 'listening');
    const socket = connect(reply.type === 'listening' ? reply.port : 0, '127.0.0.1');
    await once(socket, 'connect');
    return { socket, next };
  }
  const listener = await listenOnce();
  const { next } = await startChild({ type: 'dial-pool', geometry: childGeometry, port: listener.port }, 'dialed');
  const socket = await listener.accepted;
  return { socket, next };
}

type ChildGeometry = Extract<ChildRequest, { type: 'listen-pool' }>['geometry'];

describe('cross-process KV transfer', () => {
  it.each(['listen', 'dial'] as const)('delivers every layer byte-for-byte into the child pool (receiver %ss; checksums equal), up to a full pool', async (mode) => {
    const { socket, next } = await childReceiver(mode, { ...geometry, handoffSlots: 4 });
    const pool = BlockPool.create(geometry);
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
    const { socket } = await childReceiver('listen', { ...geometry, totalBlocks: 4, handoffSlots: 4 });
    const pool = BlockPool.create(geometry);
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
