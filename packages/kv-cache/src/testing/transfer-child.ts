/**
 * Child process (child_process.fork) for the cross-process tests and the benchmark. It owns its
 * own BlockPool (no SharedArrayBuffer crosses a process) and listens on a loopback TCP port:
 * - 'listen-pool': a KvTransferReceiver writes arriving sequences into the pool; for each one it
 *   adopts the blocks, reports per-layer CRC32s of the received KV, and releases them;
 * - 'dial-pool': the same, but the receiver dials the parent's sender (payloads read in place);
 * - 'listen-plain': the baseline: copies `expectBytes` raw bytes into a buffer (or, with `discard`,
 *   only counts them), then acks one byte.
 */
import { createServer, type Socket } from 'node:net';
import { BlockPool } from '../block-pool.js';
import { KvCacheError } from '../errors.js';
import { KvTransferReceiver, type IncomingSequence } from '../transfer-receiver.js';
import { layerChecksum } from './layer-checksum.js';
import type { ChildReply, ChildRequest } from '../protocol.js';

function reply(message: ChildReply): void {
  process.send?.(message);
}

async function report(pool: BlockPool, incoming: IncomingSequence): Promise<void> {
  try {
    await incoming.done;
    const table = incoming.consumer.adopt();
    const { layers, heads, headDim } = pool.geometry;
    const layerChecksums: number[] = [];
    for (let layer = 0; layer < layers; layer++) {
      layerChecksums.push(layerChecksum(table, { layer, tokenCount: incoming.tokenCount, nEmbd: heads * headDim }));
    }
    table.release();
    reply({ type: 'received', sequenceId: incoming.sequenceId, layerChecksums, used: pool.stats().used });
  } catch (error) {
    reply({ type: 'receive-failed', code: error instanceof KvCacheError ? error.code : 'UNEXPECTED', message: String(error) });
  }
}

function receivePlain(socket: Socket, expectBytes: number, discard: boolean): void {
  const target = Buffer.allocUnsafe(discard ? 0 : expectBytes);
  let filled = 0;
  socket.on('data', (chunk: Buffer) => {
    if (!discard) chunk.copy(target, filled);
    filled += chunk.length;
    if (filled >= expectBytes) {
      filled = 0;
      socket.write(Buffer.of(1));
    }
  });
  socket.on('error', () => undefined);
}

function listen(onSocket: (socket: Socket) => void): void {
  const server = createServer(onSocket);
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    if (address !== null && typeof address === 'object') reply({ type: 'listening', port: address.port });
  });
}

process.on('message', (request: ChildRequest) => {
  switch (request.type) {
    case 'listen-pool': {
      const pool = BlockPool.create(request.geometry);
      listen((socket) => {
        socket.on('error', () => undefined);
        new KvTransferReceiver({ pool, socket, checksums: request.checksums, onSequence: (incoming) => void report(pool, incoming) });
      });
      break;
    }
    case 'dial-pool': {
      const pool = BlockPool.create(request.geometry);
      const receiver = new KvTransferReceiver({ pool, connect: { port: request.port }, onSequence: (incoming) => void report(pool, incoming) });
      receiver.ready.then(
        () => reply({ type: 'dialed' }),
        (error: unknown) => reply({ type: 'receive-failed', code: 'DIAL', message: String(error) }),
      );
      break;
    }
    case 'listen-plain':
      listen((socket) => receivePlain(socket, request.expectBytes, request.discard === true));
      break;
    case 'exit':
      process.exit(0);
  }
});
