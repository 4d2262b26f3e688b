/**
 * Child process (child_process.fork) for the model-backed cross-process handoff test: its own
 * BlockPool, wasm backend and `baton-tiny`. A KvTransferReceiver writes each arriving sequence
 * into the pool; the child loads layers into the model as they are verified, adopts the blocks
 * once the transfer is done, and decodes greedily from the first token the parent sends.
 * @baton/model is imported dynamically: @baton/kv-cache has no runtime dependency on it.
 */
import { createServer } from 'node:net';
import { BlockPool } from '../block-pool.js';
import { KvCacheError } from '../errors.js';
import type { ModelChildReply, ModelChildRequest } from '../protocol.js';
import { KvTransferReceiver } from '../transfer-receiver.js';
import { decodeHandoff } from './handoff-decode.js';

const firstTokens = new Map<number, (token: number) => void>();
const earlyTokens = new Map<number, number>();

function reply(message: ModelChildReply): void {
  process.send?.(message);
}

function firstTokenOf(sequenceId: number): Promise<number> {
  const early = earlyTokens.get(sequenceId);
  if (early !== undefined) return Promise.resolve(early);
  return new Promise((resolve) => firstTokens.set(sequenceId, resolve));
}

async function listen(request: Extract<ModelChildRequest, { type: 'listen' }>): Promise<void> {
  const m = await import('@baton/model');
  await m.initBackend('wasm');
  const model = await m.loadModel('baton-tiny');
  const pool = BlockPool.create(request.geometry);
  const server = createServer((socket) => {
    socket.on('error', () => undefined);
    new KvTransferReceiver({
      pool,
      socket,
      onSequence: (incoming) => {
        decodeHandoff({
          model,
          consumer: incoming.consumer,
          firstToken: firstTokenOf(incoming.sequenceId),
          maxTokens: request.maxTokens,
          timeoutMs: 30_000,
          complete: incoming.done,
        }).then(
          (result) => reply({ type: 'decoded', ...result }),
          (error: unknown) => reply({ type: 'model-failed', code: error instanceof KvCacheError ? error.code : 'UNEXPECTED', message: String(error) }),
        );
      },
    });
  });
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    if (address !== null && typeof address === 'object') reply({ type: 'listening', port: address.port });
  });
}

process.on('message', (request: ModelChildRequest) => {
  if (request.type === 'listen') {
    listen(request).catch((error: unknown) => reply({ type: 'model-failed', code: 'UNEXPECTED', message: String(error) }));
    return;
  }
  const waiter = firstTokens.get(request.sequenceId);
  if (waiter === undefined) earlyTokens.set(request.sequenceId, request.token);
  else waiter(request.token);
});
