import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { BlockPool } from './block-pool.js';
import {
  TransferChecksumError,
  TransferPeerClosedError,
  TransferRejectedError,
  TransferTimeoutError,
  TransferTruncatedError,
} from './errors.js';
import { FrameType, encodeControl, encodeHeader } from './transfer-protocol.js';
import { KvTransferReceiver, type IncomingSequence } from './transfer-receiver.js';
import { KvTransferSender } from './transfer-sender.js';
import { listenOnce } from './testing/loopback.js';

const geometry = { blockSize: 4, layers: 3, heads: 2, headDim: 4, totalBlocks: 16 };
const nEmbd = 8;
const sockets: Socket[] = [];
const afterClose: (() => void)[] = [];

afterEach(() => {
  for (const socket of sockets.splice(0)) socket.destroy();
  for (const close of afterClose.splice(0)) close();
});

async function socketPair(): Promise<[Socket, Socket]> {
  const listener = await listenOnce();
  const client = connect(listener.port, '127.0.0.1');
  const serverSide = await listener.accepted;
  await once(client, 'connect').catch(() => undefined);
  sockets.push(client, serverSide);
  return [client, serverSide];
}

function filledSequence(pool: BlockPool, tokens: number, seed: number) {
  const table = pool.createTable();
  table.ensureCapacity(tokens);
  for (let layer = 0; layer < geometry.layers; layer++) {
    for (const kind of ['k', 'v'] as const) {
      table.write(layer, kind, 0, Float32Array.from({ length: tokens * nEmbd }, (_, i) => seed + layer * 1e4 + i));
    }
  }
  return table;
}

type ReceiveMode = 'socket' | 'connect';

/**
 * A receiver on `pool` and the sender's end of its connection: with 'socket' the receiver gets an
 * accepted socket (chunks copied), with 'connect' it dials (payloads read in place).
 */
async function receiverLink(mode: ReceiveMode, pool: BlockPool, onSequence: (incoming: IncomingSequence) => void, idleTimeoutMs?: number): Promise<Socket> {
  if (mode === 'socket') {
    const [a, b] = await socketPair();
    new KvTransferReceiver({ pool, socket: b, onSequence, idleTimeoutMs, checksums: 'inline' });
    return a;
  }
  const listener = await listenOnce();
  const receiver = new KvTransferReceiver({ pool, connect: { port: listener.port }, onSequence, idleTimeoutMs, checksums: 'inline' });
  await receiver.ready;
  const serverSide = await listener.accepted;
  sockets.push(serverSide);
  afterClose.push(() => receiver.close());
  return serverSide;
}

async function receiveOne(mode: ReceiveMode, pool: BlockPool, idleTimeoutMs?: number): Promise<{ sender: Socket; arriving: Promise<IncomingSequence> }> {
  let resolve: (incoming: IncomingSequence) => void = () => undefined;
  const arriving = new Promise<IncomingSequence>((r) => (resolve = r));
  const sender = await receiverLink(mode, pool, resolve, idleTimeoutMs);
  return { sender, arriving };
}

describe.each(['socket', 'connect'] as const)('cross-socket transfer (receiver %s)', (mode) => {
  it('streams a sequence layer by layer into the receiving pool, bytes equal', async () => {
    const source = BlockPool.create(geometry);
    const target = BlockPool.create(geometry);
    const table = filledSequence(source, 10, 7);
    const { sender: a, arriving } = await receiveOne(mode, target);
    const sender = new KvTransferSender({ pool: source, socket: a, maxFrameBytes: 1, checksums: 'inline' });
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const sent = sender.send({
      sequenceId: 42,
      blockIds: table.blockIds,
      tokenCount: 10,
      layerReady: (layer) => (layer < 2 ? Promise.resolve() : gate),
    });
    const incoming = await arriving;
    await incoming.consumer.waitForLayer(1);
    expect(incoming.consumer.layersReady).toBe(2);
    release();
    await sent;
    await incoming.done;
    const adopted = incoming.consumer.adopt();
    const want = new Float32Array(10 * nEmbd);
    const got = new Float32Array(10 * nEmbd);
    for (let layer = 0; layer < 3; layer++) {
      table.read(layer, 'v', 0, 10, want);
      adopted.read(layer, 'v', 0, 10, got);
      expect(got).toEqual(want);
    }
    adopted.release();
    table.release();
    expect(target.stats()).toMatchObject({ used: 0, free: 16 });
  });

  it('rejects when the receiving pool has no room, leaking nothing', async () => {
    const source = BlockPool.create(geometry);
    const target = BlockPool.create({ ...geometry, totalBlocks: 2 });
    const a = await receiverLink(mode, target, () => undefined);
    const table = filledSequence(source, 12, 1);
    const sender = new KvTransferSender({ pool: source, socket: a, checksums: 'inline' });
    const error = await sender.send({ sequenceId: 1, blockIds: table.blockIds, tokenCount: 12 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransferRejectedError);
    expect((error as TransferRejectedError).reason).toBe('no-blocks');
    expect(target.stats().free).toBe(2);
  });

  it('detects a corrupted payload with a checksum error on both sides', async () => {
    const target = BlockPool.create(geometry);
    const { sender: a, arriving } = await receiveOne(mode, target);
    a.write(encodeControl(FrameType.Begin, 5, { tokenCount: 4, blockSize: 4, layers: 3, heads: 2, headDim: 4 }));
    const payload = Buffer.alloc(2 * 4 * nEmbd * 4, 1);
    a.write(encodeHeader({ type: FrameType.Layer, sequenceId: 5, layer: 0, blockStart: 0, blockCount: 1, byteLength: payload.length, checksum: 1234 }));
    a.write(payload);
    const incoming = await arriving;
    await expect(incoming.done).rejects.toBeInstanceOf(TransferChecksumError);
    await expect(incoming.consumer.waitForLayer(0)).rejects.toThrow(/cancelled/);
    expect(target.stats()).toMatchObject({ used: 0, free: 16 });
  });

  it('never lets a failed sequence\'s blocks be reused while one of its frames is still arriving', async () => {
    const target = BlockPool.create(geometry);
    const arrivals: IncomingSequence[] = [];
    const a = await receiverLink(mode, target, (incoming) => arrivals.push(incoming));
    const arrived = async (n: number): Promise<IncomingSequence> => {
      for (let i = 0; i < 200 && arrivals.length < n; i++) await new Promise((r) => setTimeout(r, 5));
      return arrivals[n - 1];
    };
    const begin = (sequenceId: number, tokenCount: number): Buffer => encodeControl(FrameType.Begin, sequenceId, { tokenCount, blockSize: 4, layers: 3, heads: 2, headDim: 4 });
    const span = 2 * 4 * nEmbd * 4;
    const corrupt = encodeHeader({ type: FrameType.Layer, sequenceId: 7, layer: 0, blockStart: 0, blockCount: 1, byteLength: span, checksum: 1234 });
    const next = encodeHeader({ type: FrameType.Layer, sequenceId: 7, layer: 0, blockStart: 1, blockCount: 1, byteLength: span, checksum: 0 });
    const payload = Buffer.alloc(span, 0xab);
    // The first frame fails its checksum while the second one is half received.
    a.write(Buffer.concat([begin(7, 8), corrupt, Buffer.alloc(span, 1), next, payload.subarray(0, span / 2)]));
    await expect((await arrived(1)).done).rejects.toBeInstanceOf(TransferChecksumError);
    // Whatever the pool hands out now is marked; the rest of the frame must not land in it.
    const other = target.createTable();
    expect(other.ensureCapacity(Math.max(1, target.stats().free) * 4)).toBe(true);
    const mark = new Float32Array(other.blockIds.length * 4 * nEmbd).fill(0.25);
    for (let layer = 0; layer < 3; layer++) for (const kind of ['k', 'v'] as const) other.write(layer, kind, 0, mark);
    // The rest of the frame, then an empty sequence whose arrival says the rest was consumed.
    a.write(Buffer.concat([payload.subarray(span / 2), begin(8, 0)]));
    (await arrived(2)).done.catch(() => undefined);
    const got = new Float32Array(mark.length);
    for (let layer = 0; layer < 3; layer++) {
      for (const kind of ['k', 'v'] as const) {
        other.read(layer, kind, 0, other.blockIds.length * 4, got);
        expect(got).toEqual(mark);
      }
    }
    other.release();
    arrivals[1].consumer.cancel();
  });

  it('reports a stream cut inside a frame as truncated, between frames as peer closed', async () => {
    for (const cut of ['inside', 'between'] as const) {
      const target = BlockPool.create(geometry);
      const { sender: a, arriving } = await receiveOne(mode, target);
      a.write(encodeControl(FrameType.Begin, 9, { tokenCount: 4, blockSize: 4, layers: 3, heads: 2, headDim: 4 }));
      if (cut === 'inside') a.write(encodeHeader({ type: FrameType.Layer, sequenceId: 9, layer: 0, blockStart: 0, blockCount: 1, byteLength: 256, checksum: 0 }));
      const incoming = await arriving;
      a.end();
      await expect(incoming.done).rejects.toBeInstanceOf(cut === 'inside' ? TransferTruncatedError : TransferPeerClosedError);
      expect(target.stats().used).toBe(0);
    }
  });

  it('fails an idle sequence with a timeout error', async () => {
    const target = BlockPool.create(geometry);
    const { sender: a, arriving } = await receiveOne(mode, target, 30);
    a.write(encodeControl(FrameType.Begin, 3, { tokenCount: 4, blockSize: 4, layers: 3, heads: 2, headDim: 4 }));
    const incoming = await arriving;
    await expect(incoming.done).rejects.toBeInstanceOf(TransferTimeoutError);
    expect(target.stats().used).toBe(0);
  });
});
