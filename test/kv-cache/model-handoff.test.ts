/**
 * Model-backed handoff integrity: `baton-tiny` (wasm backend) prefills a prompt into pool blocks,
 * the KV is handed off (in-process between two worker threads, or over a socket into a forked
 * child's pool) and decoded greedily there; the tokens equal generate() without a handoff. Also
 * prefix reuse: a prompt sharing a 3-block cached prefix decodes to the same tokens.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { generate, initBackend, loadModel, argmax, type Gpt } from '@baton/model';
import { BlockPool, KvTransferSender } from '@baton/kv-cache';
import { layerChecksum } from '../../packages/kv-cache/src/testing/layer-checksum.js';
import type { ModelChildReply, ModelChildRequest, ModelWorkerReply, ModelWorkerRequest } from '../../packages/kv-cache/src/protocol.js';

const dist = new URL('../../packages/kv-cache/dist/testing/', import.meta.url);
const workerUrl = new URL('model-handoff-worker.js', dist);
const childPath = fileURLToPath(new URL('model-decode-child.js', dist));
const geometry = { blockSize: 16, layers: 4, heads: 8, headDim: 32, totalBlocks: 64, handoffSlots: 4 };
const MAX_TOKENS = 8;

/** Deterministic byte-token prompt. */
function prompt(length: number, seed: number): number[] {
  return Array.from({ length }, (_, i) => (i * 31 + seed * 17 + ((i * i) % 7)) % 256);
}

let model: Gpt;
const workers: Worker[] = [];
const children: ChildProcess[] = [];

beforeAll(async () => {
  await initBackend('wasm');
  model = await loadModel('baton-tiny');
});
afterAll(() => model.dispose());
afterEach(async () => {
  for (const child of children.splice(0)) child.kill();
  await Promise.all(workers.splice(0).map((worker) => worker.terminate()));
});

/** A model worker plus a queue of its replies. */
async function startWorker(): Promise<{ worker: Worker; next: (type: ModelWorkerReply['type']) => Promise<ModelWorkerReply> }> {
  const worker = new Worker(workerUrl);
  workers.push(worker);
  const replies: ModelWorkerReply[] = [];
  const waiters: Array<() => void> = [];
  worker.on('message', (message: ModelWorkerReply) => {
    replies.push(message);
    waiters.splice(0).forEach((wake) => wake());
  });
  const next = async (type: ModelWorkerReply['type']): Promise<ModelWorkerReply> => {
    for (;;) {
      const failed = replies.find((r) => r.type === 'model-failed');
      if (failed !== undefined) throw new Error(`worker failed: ${JSON.stringify(failed)}`);
      const at = replies.findIndex((r) => r.type === type);
      if (at >= 0) return replies.splice(at, 1)[0];
      await new Promise<void>((wake) => waiters.push(wake));
    }
  };
  await next('model-ready');
  return { worker, next };
}

function expectType<T extends { type: string }, K extends T['type']>(message: T, type: K): Extract<T, { type: K }> {
  expect(message.type).toBe(type);
  return message as Extract<T, { type: K }>;
}

async function handoffBetweenWorkers(promptIds: number[], lockstep: boolean): Promise<Extract<ModelWorkerReply, { type: 'decoded' }>> {
  const pool = BlockPool.create(geometry);
  const [producer, consumer] = await Promise.all([startWorker(), startWorker()]);
  const gate = lockstep ? new SharedArrayBuffer(4) : null;
  const prefill: ModelWorkerRequest = { type: 'prefill', handle: pool.handle, prompt: promptIds, lockstep: gate };
  producer.worker.postMessage(prefill);
  const opened = expectType(await producer.next('handoff-opened'), 'handoff-opened');
  const decode: ModelWorkerRequest = { type: 'decode', handle: pool.handle, descriptor: opened.descriptor, maxTokens: MAX_TOKENS, lockstep: gate };
  consumer.worker.postMessage(decode);
  const prefilled = expectType(await producer.next('prefilled'), 'prefilled');
  consumer.worker.postMessage({ type: 'first-token', token: prefilled.firstToken } satisfies ModelWorkerRequest);
  const decoded = expectType(await consumer.next('decoded'), 'decoded');
  expect(pool.stats().used).toBe(0);
  return decoded;
}

describe('model-backed KV handoff', () => {
  const promptIds = prompt(45, 1);

  it('in-process: tokens decoded after a worker-to-worker handoff equal generate()', async () => {
    const expected = generate(model, { promptIds, maxTokens: MAX_TOKENS }).ids;
    const decoded = await handoffBetweenWorkers(promptIds, false);
    expect(decoded.tokens).toEqual(expected);
  });

  it('in-process: a consumer that loads each layer before the next is computed decodes the same tokens', async () => {
    const expected = generate(model, { promptIds, maxTokens: MAX_TOKENS }).ids;
    const decoded = await handoffBetweenWorkers(promptIds, true);
    // Lockstep: the producer blocks after layer i until the consumer loaded it, so layer i was
    // read while exactly i + 1 layers existed.
    expect(decoded.layersReadyAtLoad).toEqual([1, 2, 3, 4]);
    expect(decoded.tokens).toEqual(expected);
  });

  it('cross-process: tokens decoded in a forked child after a socket transfer equal generate(); checksums equal', async () => {
    const expected = generate(model, { promptIds, maxTokens: MAX_TOKENS }).ids;
    const child = fork(childPath, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    children.push(child);
    const replies: ModelChildReply[] = [];
    child.on('message', (message: ModelChildReply) => replies.push(message));
    const nextReply = async (): Promise<ModelChildReply> => {
      while (replies.length === 0) await once(child, 'message');
      return replies.shift() as ModelChildReply;
    };
    child.send({ type: 'listen', geometry, maxTokens: MAX_TOKENS } satisfies ModelChildRequest);
    const listening = expectType(await nextReply(), 'listening');

    const pool = BlockPool.create(geometry);
    const table = pool.createTable();
    expect(table.ensureCapacity(promptIds.length)).toBe(true);
    const seq = model.attach(table);
    const firstToken = argmax(model.prefill(seq, promptIds));
    seq.release();
    const nEmbd = geometry.heads * geometry.headDim;
    const checksums = Array.from({ length: geometry.layers }, (_, layer) => layerChecksum(table, { layer, tokenCount: promptIds.length, nEmbd }));

    const socket = connect(listening.port, '127.0.0.1');
    await once(socket, 'connect');
    const sender = new KvTransferSender({ pool, socket });
    try {
      child.send({ type: 'first-token', sequenceId: 7, token: firstToken } satisfies ModelChildRequest);
      await sender.send({ sequenceId: 7, blockIds: table.blockIds, tokenCount: promptIds.length });
      const decoded = expectType(await nextReply(), 'decoded');
      expect(decoded.layerChecksums).toEqual(checksums);
      expect(decoded.tokens).toEqual(expected);
    } finally {
      socket.destroy();
      table.release();
    }
  });

  it('prefix reuse: a prompt sharing a 3-block cached prefix skips it and decodes the same tokens', async () => {
    const pool = BlockPool.create(geometry);
    const first = prompt(60, 2);
    const second = [...first.slice(0, 3 * geometry.blockSize), ...prompt(13, 3)];
    const run = (promptIds: number[]): { tokens: number[]; cachedTokens: number } => {
      const { table, cachedTokens } = pool.match(promptIds.slice(0, -1));
      expect(table.ensureCapacity(promptIds.length + MAX_TOKENS)).toBe(true);
      const seq = model.attach(table, { length: cachedTokens });
      try {
        const tokens = [argmax(model.prefill(seq, promptIds.slice(cachedTokens)))];
        pool.publish(table, promptIds);
        while (tokens.length < MAX_TOKENS) tokens.push(argmax(model.decode([{ seq, token: tokens[tokens.length - 1] }])));
        return { tokens, cachedTokens };
      } finally {
        seq.release();
        table.release();
      }
    };
    expect(run(first).cachedTokens).toBe(0);
    const hitsBefore = pool.stats().hits;
    const reused = run(second);
    expect(reused.cachedTokens).toBe(3 * geometry.blockSize);
    expect(pool.stats().hits - hitsBefore).toBe(3);
    expect(reused.tokens).toEqual(generate(model, { promptIds: second, maxTokens: MAX_TOKENS }).ids);
    expect(pool.stats().used).toBe(0);
  });
});
