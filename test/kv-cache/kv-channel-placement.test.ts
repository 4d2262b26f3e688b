/**
 * The KV channel across a thread (shared pool) and across a process (stream into the child's own
 * pool over loopback TCP): the decode side reports layer i before the prefill side writes layer
 * i+1, every layer's bytes arrive intact, and no block is left behind on either side, also when
 * the decode process is killed mid-stream.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { BlockPool, KvConnector, TransferPeerClosedError, type KvTarget } from '@baton/kv-cache';
import { fillLayer, layerChecksum } from '../../packages/kv-cache/src/testing/layer-checksum.js';
import type { ChannelPeerReply, ChannelPeerRequest } from '../../packages/kv-cache/src/protocol.js';

const peerPath = fileURLToPath(new URL('../../packages/kv-cache/dist/testing/kv-channel-peer.js', import.meta.url));
const geometry = { blockSize: 16, layers: 4, heads: 4, headDim: 16, totalBlocks: 64 };
const nEmbd = 64;
const TOKENS = 200;
const stops: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
});

interface Peer {
  send(request: ChannelPeerRequest): void;
  next(): Promise<ChannelPeerReply>;
  child: ChildProcess | null;
}

/** Starts the decode-side peer in a worker thread or a child process; resolves with its target. */
async function startPeer(placement: 'thread' | 'process', pool: BlockPool): Promise<{ peer: Peer; target: KvTarget }> {
  const inbox: ChannelPeerReply[] = [];
  const waiters: ((reply: ChannelPeerReply) => void)[] = [];
  const deliver = (reply: ChannelPeerReply): void => {
    const waiter = waiters.shift();
    if (waiter !== undefined) waiter(reply);
    else inbox.push(reply);
  };
  const next = (): Promise<ChannelPeerReply> => {
    const ready = inbox.shift();
    return ready !== undefined ? Promise.resolve(ready) : new Promise((resolve) => waiters.push(resolve));
  };
  let peer: Peer;
  if (placement === 'thread') {
    const worker = new Worker(peerPath);
    worker.on('message', deliver);
    stops.push(() => worker.terminate().then(() => undefined));
    peer = { send: (r) => worker.postMessage(r), next, child: null };
    peer.send({ type: 'attach', handle: pool.handle });
  } else {
    const child = fork(peerPath, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    child.on('message', (m) => deliver(m as ChannelPeerReply));
    stops.push(async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill();
        await once(child, 'exit');
      }
    });
    peer = { send: (r) => child.send(r), next, child };
    peer.send({ type: 'listen', geometry });
  }
  const ready = await next();
  if (ready.type !== 'ready') throw new Error(`peer replied ${JSON.stringify(ready)}`);
  return { peer, target: ready.target };
}

describe.each(['thread', 'process'] as const)('KV channel, decode side in another %s', (placement) => {
  it('has layer i on the decode side before layer i+1 is written; bytes intact; no block left', async () => {
    const pool = BlockPool.create(geometry);
    const start = pool.stats().free;
    const connector = new KvConnector({ pool });
    stops.push(() => connector.close());
    const { peer, target } = await startPeer(placement, pool);
    expect(target.kind).toBe(placement === 'thread' ? 'shared' : 'stream');
    for (let round = 0; round < 2; round++) {
      const table = pool.createTable();
      expect(table.ensureCapacity(TOKENS)).toBe(true);
      const writer = connector.openWriter(target, { table, tokenCount: TOKENS, sequenceId: `r${round}` });
      if (writer === null) throw new Error('no handoff slot');
      peer.send({ type: 'read', ticket: writer.ticket, reportLayers: true, timeoutMs: 10_000 });
      for (let layer = 0; layer < geometry.layers; layer++) {
        fillLayer(table, { layer, tokenCount: TOKENS, nEmbd, seed: round + 1 });
        writer.publishLayer(layer);
        const got = await peer.next();
        expect(got).toEqual({ type: 'layer', layer, checksum: layerChecksum(table, { layer, tokenCount: TOKENS, nEmbd }) });
        expect(writer.layersWritten).toBe(layer + 1);
      }
      const held = await peer.next();
      expect(held.type).toBe('held');
      await writer.done;
      table.release();
      // NOTE: after the Ack the endpoint's receiver dropped its own references too.
      peer.send({ type: 'stats' });
      expect(await peer.next()).toEqual({ type: 'stats', free: geometry.totalBlocks });
    }
    expect(pool.stats().free).toBe(start);
  });
});

describe('KV channel, decode process killed mid-stream', () => {
  it('fails the writer with TransferPeerClosedError and releases its blocks', async () => {
    const pool = BlockPool.create(geometry);
    const start = pool.stats().free;
    const connector = new KvConnector({ pool });
    stops.push(() => connector.close());
    const { peer, target } = await startPeer('process', pool);
    const table = pool.createTable();
    expect(table.ensureCapacity(TOKENS)).toBe(true);
    const writer = connector.openWriter(target, { table, tokenCount: TOKENS });
    if (writer === null || peer.child === null) throw new Error('unreachable');
    peer.send({ type: 'read', ticket: writer.ticket, reportLayers: true, timeoutMs: 10_000 });
    fillLayer(table, { layer: 0, tokenCount: TOKENS, nEmbd, seed: 9 });
    writer.publishLayer(0);
    expect((await peer.next()).type).toBe('layer');
    peer.child.kill('SIGKILL');
    await expect(writer.done).rejects.toBeInstanceOf(TransferPeerClosedError);
    table.release();
    expect(pool.stats().free).toBe(start);
  });
});
