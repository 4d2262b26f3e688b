/**
 * Worker thread with its own wasm backend and `baton-tiny`, playing either side of a model-backed
 * in-process handoff (test/kv-cache/model-handoff.test.ts):
 * - 'prefill': match the prompt's cached prefix, open a handoff, post its descriptor BEFORE
 *   computing, prefill with layer-wise publication, publish the prompt to the prefix cache, post
 *   the first (greedy) token. With `lockstep`, it blocks after publishing layer i until the
 *   consumer has loaded layer i, so the consumer provably reads layers while later ones are unwritten.
 * - 'decode': accept the descriptor, load layers as they are published, adopt, decode greedily.
 * @baton/model is imported dynamically: @baton/kv-cache has no runtime dependency on it.
 */
import { parentPort } from 'node:worker_threads';
import { BlockPool } from '../block-pool.js';
import { KvCacheError } from '../errors.js';
import type { ModelWorkerReply, ModelWorkerRequest } from '../protocol.js';
import { decodeHandoff } from './handoff-decode.js';

const LOCKSTEP_TIMEOUT_MS = 30_000;
const model = import('@baton/model').then(async (m) => {
  await m.initBackend('wasm');
  return { module: m, gpt: await m.loadModel('baton-tiny') };
});
// NOTE: one decode per worker; the first token may arrive before the decode request is processed.
let firstToken: (token: number) => void = () => undefined;
const firstTokenArrived = new Promise<number>((resolve) => (firstToken = resolve));

function reply(message: ModelWorkerReply): void {
  parentPort?.postMessage(message);
}

/** Blocks this thread until the consumer reports `layer` loaded (lockstep mode). */
function awaitConsumer(lockstep: Int32Array, layer: number): void {
  const deadline = Date.now() + LOCKSTEP_TIMEOUT_MS;
  for (let seen = Atomics.load(lockstep, 0); seen <= layer; seen = Atomics.load(lockstep, 0)) {
    if (Date.now() > deadline) throw new Error(`lockstep: consumer did not load layer ${layer}`);
    Atomics.wait(lockstep, 0, seen, 100);
  }
}

async function prefill(request: Extract<ModelWorkerRequest, { type: 'prefill' }>): Promise<void> {
  const { module, gpt } = await model;
  const pool = BlockPool.attach(request.handle);
  const prompt = request.prompt;
  const { table, cachedTokens } = pool.match(prompt.slice(0, -1));
  try {
    const producer = table.ensureCapacity(prompt.length) ? pool.openHandoff(table, { tokenCount: prompt.length }) : null;
    if (producer === null) throw new Error('prefill: no blocks or no handoff slot');
    reply({ type: 'handoff-opened', descriptor: producer.descriptor, cachedTokens });
    const lockstep = request.lockstep === null ? null : new Int32Array(request.lockstep);
    const seq = gpt.attach(table, { length: cachedTokens });
    try {
      const logits = gpt.prefill(seq, prompt.slice(cachedTokens), {
        onLayerDone: (layer) => {
          producer.publishLayer(layer);
          if (lockstep !== null) awaitConsumer(lockstep, layer);
        },
      });
      pool.publish(table, prompt);
      reply({ type: 'prefilled', firstToken: module.argmax(logits) });
    } catch (error) {
      producer.cancel();
      throw error;
    } finally {
      seq.release();
    }
  } finally {
    table.release();
  }
}

async function decode(request: Extract<ModelWorkerRequest, { type: 'decode' }>): Promise<void> {
  const { gpt } = await model;
  const consumer = BlockPool.attach(request.handle).acceptHandoff(request.descriptor);
  const lockstep = request.lockstep === null ? null : new Int32Array(request.lockstep);
  const result = await decodeHandoff({
    model: gpt,
    consumer,
    firstToken: firstTokenArrived,
    maxTokens: request.maxTokens,
    timeoutMs: LOCKSTEP_TIMEOUT_MS,
    onLayerLoaded: (layer) => {
      if (lockstep === null) return;
      Atomics.store(lockstep, 0, layer + 1);
      Atomics.notify(lockstep, 0);
    },
  });
  reply({ type: 'decoded', ...result });
}

function fail(error: unknown): void {
  reply({ type: 'model-failed', code: error instanceof KvCacheError ? error.code : 'UNEXPECTED', message: String(error) });
}

model.then(() => reply({ type: 'model-ready' }), fail);
parentPort?.on('message', (request: ModelWorkerRequest) => {
  if (request.type === 'prefill') prefill(request).catch(fail);
  else if (request.type === 'decode') decode(request).catch(fail);
  else firstToken(request.token);
});
