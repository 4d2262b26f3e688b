/**
 * Bench part 4 of `npm run bench:kv`: a 512-token prompt prefilled for real on the bench model
 * (`baton-tiny` on wasm, @baton/model's public API, default chunking) with its KV handed over
 * through a KV channel; time from prefill start to the decode side holding every layer (its
 * reader adopted), by where the decode side runs:
 * - thread placement: decode side in a worker thread attached to this pool ('shared' channel);
 * - process placement: decode side in a forked child with its own pool and KvEndpoint on
 *   loopback TCP ('stream' channel), each layer sent from the model's per-layer callback;
 * - reference: the same child, but the KV is sent only after the whole prefill (no overlap).
 * The decode side stamps `performance.timeOrigin + performance.now()` when it holds the blocks.
 * Variants run back to back in every round (order rotated); medians over the rounds, and the
 * goal is judged on the median of per-round ratios to thread placement (goal: <= 1.25x).
 * NOTE: @baton/model is imported dynamically (a devDependency for types only).
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Gpt } from '@baton/model';
import { BlockPool } from '../block-pool.js';
import type { KvTarget } from '../kv-channel.js';
import { KvConnector } from '../kv-connector.js';
import type { ChannelPeerReply, ChannelPeerRequest } from '../protocol.js';

const PROMPT = 512;
const ROUNDS = 21;
const WARMUP = 2;
const peerUrl = new URL('../testing/kv-channel-peer.js', import.meta.url);

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Deterministic byte tokens. */
const tokens = (length: number, seed: number): number[] => Array.from({ length }, (_, i) => (i * 131 + seed * 7919 + ((i * i) % 13)) % 256);

interface Peer {
  readonly target: KvTarget;
  send(request: ChannelPeerRequest): void;
  next(): Promise<ChannelPeerReply>;
  stop(): Promise<void>;
}

/** Starts the decode side in a worker thread (attached to `pool`) or a child process (own pool). */
async function startPeer(placement: 'thread' | 'process', pool: BlockPool): Promise<Peer> {
  const replies: ChannelPeerReply[] = [];
  const waiters: ((reply: ChannelPeerReply) => void)[] = [];
  const deliver = (reply: ChannelPeerReply): void => {
    const waiter = waiters.shift();
    if (waiter !== undefined) waiter(reply);
    else replies.push(reply);
  };
  const next = (): Promise<ChannelPeerReply> => {
    const ready = replies.shift();
    return ready !== undefined ? Promise.resolve(ready) : new Promise((resolve) => waiters.push(resolve));
  };
  let send: (request: ChannelPeerRequest) => void;
  let stop: () => Promise<void>;
  if (placement === 'thread') {
    const worker = new Worker(peerUrl);
    worker.on('message', deliver);
    send = (request) => worker.postMessage(request);
    stop = () => worker.terminate().then(() => undefined);
    send({ type: 'attach', handle: pool.handle });
  } else {
    const child = fork(fileURLToPath(peerUrl), { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    child.on('message', (message) => deliver(message as ChannelPeerReply));
    send = (request) => child.send(request);
    stop = async () => {
      child.kill();
      if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
    };
    const { blockSize, layers, heads, headDim, totalBlocks } = pool.geometry;
    send({ type: 'listen', geometry: { blockSize, layers, heads, headDim, totalBlocks } });
  }
  const ready = await next();
  if (ready.type !== 'ready') throw new Error(`decode side: ${JSON.stringify(ready)}`);
  return { target: ready.target, send, next, stop };
}

/** One request: prefill `prompt`, hand its KV over; ms from prefill start to the decode side holding it. */
async function handOver(model: Gpt, pool: BlockPool, connector: KvConnector, peer: Peer, prompt: readonly number[], overlap: boolean): Promise<number> {
  const table = pool.createTable();
  if (!table.ensureCapacity(prompt.length)) throw new Error('bench pool too small');
  const start = performance.timeOrigin + performance.now();
  const writer = connector.openWriter(peer.target, { table, tokenCount: prompt.length });
  if (writer === null) throw new Error('no handoff slot');
  peer.send({ type: 'read', ticket: writer.ticket, reportLayers: false, timeoutMs: 30_000 });
  const held = peer.next();
  const seq = model.attach(table, { length: 0 });
  try {
    model.prefill(seq, prompt, { onLayerDone: overlap ? (layer) => writer.publishLayer(layer) : undefined });
    if (!overlap) for (let layer = 0; layer < pool.geometry.layers; layer++) writer.publishLayer(layer);
  } finally {
    seq.release();
    table.release();
  }
  const reply = await held;
  await writer.done;
  if (reply.type !== 'held') throw new Error(`decode side: ${JSON.stringify(reply)}`);
  return reply.at - start;
}

/** Table rows of the thread-vs-process placement comparison. */
export async function benchChannelPlacement(): Promise<string[]> {
  const m = await import('@baton/model');
  await m.initBackend('wasm');
  const model = await m.loadModel('baton-tiny');
  const { nLayer, nHead, nEmbd } = model.config;
  const pool = BlockPool.create({ blockSize: 16, layers: nLayer, heads: nHead, headDim: nEmbd / nHead, totalBlocks: 128 });
  const connector = new KvConnector({ pool });
  const thread = await startPeer('thread', pool);
  const child = await startPeer('process', pool);
  const variants = [
    { label: 'baseline: thread placement, shared-pool channel (decode in a worker thread)', peer: thread, overlap: true, runs: [] as number[] },
    { label: 'process placement, stream channel, layer by layer (decode in a child process)', peer: child, overlap: true, runs: [] as number[] },
    { label: 'reference: process placement, KV sent after the whole prefill', peer: child, overlap: false, runs: [] as number[] },
  ];
  try {
    for (let round = 0; round < WARMUP + ROUNDS; round++) {
      for (let k = 0; k < variants.length; k++) {
        const variant = variants[(round + k) % variants.length];
        const ms = await handOver(model, pool, connector, variant.peer, tokens(PROMPT, round * 3 + k), variant.overlap);
        if (round >= WARMUP) variant.runs.push(ms);
      }
    }
  } finally {
    connector.close();
    await thread.stop();
    await child.stop();
    model.dispose();
  }
  if (pool.stats().free !== pool.geometry.totalBlocks) throw new Error(`bench leaked ${pool.geometry.totalBlocks - pool.stats().free} blocks`);
  const base = variants[0].runs;
  const kvMiB = (PROMPT * nLayer * 2 * nEmbd * 4) / 2 ** 20;
  const rows = [
    `| KV channel by placement (baton-tiny, wasm, ${PROMPT}-token prompt, ${kvMiB.toFixed(0)} MiB KV, ${ROUNDS} rounds): prefill start -> decode side holds all layers | median ms | vs thread: median of per-round ratios | ratio of medians |`,
    '|---|---:|---:|---:|',
  ];
  for (const [i, variant] of variants.entries()) {
    const ratio = median(variant.runs.map((ms, r) => ms / base[r]));
    const goal = i === 1 ? ' (goal <= 1.25x)' : '';
    rows.push(`| ${variant.label} | ${median(variant.runs).toFixed(1)} | ${ratio.toFixed(3)}x${goal} | ${(median(variant.runs) / median(base)).toFixed(3)}x |`);
  }
  return rows;
}
