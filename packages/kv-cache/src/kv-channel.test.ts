import { afterEach, describe, expect, it } from 'vitest';
import { BlockPool } from './block-pool.js';
import type { BlockTable } from './block-table.js';
import {
  HandoffCancelledError,
  HandoffTimeoutError,
  KvArgumentError,
  TransferChecksumError,
  TransferPeerClosedError,
  TransferRejectedError,
} from './errors.js';
import { openKvReader, type KvReader, type KvTarget, type KvWriter } from './kv-channel.js';
import { KvConnector } from './kv-connector.js';
import { KvEndpoint } from './kv-endpoint.js';
import { corruptingProxy } from './testing/corrupting-proxy.js';
import { fillLayer, layerChecksum } from './testing/layer-checksum.js';

const geometry = { blockSize: 4, layers: 3, heads: 2, headDim: 4, totalBlocks: 32, handoffSlots: 4 };
const nEmbd = 8;
const TOKENS = 37;
const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

type Kind = KvTarget['kind'];

interface Sides {
  prefill: BlockPool;
  decode: BlockPool;
  connector: KvConnector;
  endpoint: KvEndpoint | null;
  target: KvTarget;
  reader(writer: KvWriter): KvReader;
  /** Free counts of both pools now (same pool twice for 'shared'). */
  free(): [number, number];
}

/** Prefill and decode sides of one channel kind: one pool, or two pools and an endpoint on loopback TCP. */
async function sides(kind: Kind, decodeGeometry = geometry): Promise<Sides> {
  const prefill = BlockPool.create(geometry);
  const decode = kind === 'shared' ? prefill : BlockPool.create(decodeGeometry);
  const connector = new KvConnector({ pool: prefill, maxFrameBytes: 512 });
  cleanups.push(() => connector.close());
  const endpoint = kind === 'shared' ? null : await KvEndpoint.listen({ pool: decode });
  if (endpoint !== null) cleanups.push(() => endpoint.close());
  const target: KvTarget = endpoint === null ? { kind: 'shared' } : endpoint.target;
  return {
    prefill,
    decode,
    connector,
    endpoint,
    target,
    reader: (writer) => openKvReader(writer.ticket, { pool: decode, endpoint: endpoint ?? undefined }),
    free: () => [prefill.stats().free, decode.stats().free],
  };
}

function filledTable(pool: BlockPool, layers: number): BlockTable {
  const table = pool.createTable();
  if (!table.ensureCapacity(TOKENS)) throw new Error('test pool too small');
  for (let layer = 0; layer < layers; layer++) fillLayer(table, { layer, tokenCount: TOKENS, nEmbd, seed: 3 });
  return table;
}

function open(s: Sides, table: BlockTable, deadlineMs?: number): KvWriter {
  const writer = s.connector.openWriter(s.target, { table, tokenCount: TOKENS, sequenceId: 'req-1', deadlineMs });
  if (writer === null) throw new Error('no handoff slot');
  return writer;
}

/** One open channel: both sides of `kind`, a table filled for `layers` layers, its writer and its reader. */
interface Channel {
  s: Sides;
  /** Free counts of both pools before the channel was opened. */
  start: [number, number];
  table: BlockTable;
  writer: KvWriter;
  reader: KvReader;
  /** Waits until both pools' free counts are back at `start`. */
  backToStart(): Promise<void>;
}

async function channel(kind: Kind, opts: { layers?: number; deadlineMs?: number; decodeGeometry?: typeof geometry } = {}): Promise<Channel> {
  const s = await sides(kind, opts.decodeGeometry);
  const start = s.free();
  const table = filledTable(s.prefill, opts.layers ?? geometry.layers);
  const writer = open(s, table, opts.deadlineMs);
  return {
    s, start, table, writer, reader: s.reader(writer),
    backToStart: () => backTo(s, start),
  };
}

/** Waits until both pools' free counts are back at `start`. */
function backTo(s: Sides, start: [number, number]): Promise<void> {
  return eventually(() => s.free()[0] === start[0] && s.free()[1] === start[1], 'free counts back at start');
}

const checksumOf = (reader: { read: BlockTable['read'] }, layer: number): number => layerChecksum(reader, { layer, tokenCount: TOKENS, nEmbd });

/** Waits until `check` holds (stream failures settle on the other side a few ticks later). */
async function eventually(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  if (!check()) throw new Error(`timed out waiting for: ${what}`);
}

describe.each(['shared', 'stream'] as const)('KV channel (%s)', (kind) => {
  it('delivers layer i before layer i+1 is written, byte-for-byte, then adopts; free counts return', async () => {
    const { s, table, writer, reader, backToStart } = await channel(kind, { layers: 0 });
    expect(reader.tokenCount).toBe(TOKENS);
    for (let layer = 0; layer < geometry.layers; layer++) {
      fillLayer(table, { layer, tokenCount: TOKENS, nEmbd, seed: 3 });
      writer.publishLayer(layer);
      await reader.waitForLayer(layer, { timeoutMs: 5000 });
      expect(writer.layersWritten).toBe(layer + 1);
      expect(reader.layersReady).toBe(layer + 1);
      expect(checksumOf(reader, layer)).toBe(checksumOf(table, layer));
    }
    await writer.done;
    const adopted = reader.adopt();
    for (let layer = 0; layer < geometry.layers; layer++) expect(checksumOf(adopted, layer)).toBe(checksumOf(table, layer));
    table.release();
    adopted.release();
    await backToStart();
    if (s.endpoint !== null) expect(s.endpoint.openChannels).toBe(0);
  });

  it.each([0, 1])('writer cancels after %i layers: the reader rejects, both pools free', async (layers) => {
    const { table, writer, reader, backToStart } = await channel(kind);
    for (let layer = 0; layer < layers; layer++) writer.publishLayer(layer);
    if (layers > 0) await reader.waitForLayer(layers - 1, { timeoutMs: 5000 });
    table.release();
    expect(writer.cancel()).toBe(true);
    expect(writer.cancel()).toBe(false);
    await expect(writer.done).rejects.toBeInstanceOf(HandoffCancelledError);
    const waited = reader.waitForLayer(geometry.layers - 1, { timeoutMs: 5000 });
    await expect(waited).rejects.toBeInstanceOf(kind === 'shared' ? HandoffCancelledError : TransferPeerClosedError);
    expect(() => writer.publishLayer(layers)).toThrow(HandoffCancelledError);
    await backToStart();
  });

  it.each([0, 1])('reader cancels after %i layers: the writer fails, both pools free', async (layers) => {
    const { table, writer, reader, backToStart } = await channel(kind);
    for (let layer = 0; layer < layers; layer++) writer.publishLayer(layer);
    if (layers > 0) await reader.waitForLayer(layers - 1, { timeoutMs: 5000 });
    expect(reader.cancel()).toBe(true);
    if (kind === 'stream') await expect(writer.done).rejects.toMatchObject({ name: 'TransferRejectedError', reason: 'cancelled' });
    expect(() => writer.publishLayer(layers)).toThrow(HandoffCancelledError);
    await expect(writer.done).rejects.toBeInstanceOf(kind === 'shared' ? HandoffCancelledError : TransferRejectedError);
    await expect(reader.waitForLayer(0)).rejects.toBeInstanceOf(HandoffCancelledError);
    expect(() => reader.adopt()).toThrow(HandoffCancelledError);
    table.release();
    await backToStart();
  });

  it('a reader that times out waiting ends the channel; the writer fails, both pools free', async () => {
    const { table, writer, reader, backToStart } = await channel(kind, { deadlineMs: 300 });
    writer.publishLayer(0);
    await expect(reader.waitForLayer(1, { timeoutMs: 30 })).rejects.toBeInstanceOf(HandoffTimeoutError);
    table.release();
    await expect(writer.done).rejects.toBeInstanceOf(kind === 'shared' ? HandoffCancelledError : TransferRejectedError);
    await backToStart();
  });

  it('an abort signal ends the channel like a cancel', async () => {
    const { table, writer, reader, backToStart } = await channel(kind, { deadlineMs: 300 });
    const abort = new AbortController();
    const waited = reader.waitForLayer(0, { signal: abort.signal });
    abort.abort();
    await expect(waited).rejects.toBeInstanceOf(HandoffCancelledError);
    table.release();
    await expect(writer.done).rejects.toBeDefined();
    await backToStart();
  });

  it('a writer that stalls past its deadline fails; nothing leaks', async () => {
    const { table, writer, reader, backToStart } = await channel(kind, { deadlineMs: 60 });
    writer.publishLayer(0);
    table.release();
    await expect(writer.done).rejects.toBeDefined();
    await expect(reader.waitForLayer(2, { timeoutMs: 5000 })).rejects.toBeDefined();
    await backToStart();
  });

  it('a complete channel nobody adopts is cancelled at its deadline', async () => {
    const s = await sides(kind);
    const start = s.free();
    const table = filledTable(s.prefill, geometry.layers);
    const writer = open(s, table, 80);
    for (let layer = 0; layer < geometry.layers; layer++) writer.publishLayer(layer);
    table.release();
    await writer.done;
    await backTo(s, start);
    if (s.endpoint !== null) expect(s.endpoint.openChannels).toBe(0);
  });
});

describe('KV channel (stream) failures', () => {
  it('the connection closing mid-stream fails both sides; both pools free', async () => {
    const { s, table, writer, reader, backToStart } = await channel('stream');
    writer.publishLayer(0);
    await reader.waitForLayer(0, { timeoutMs: 5000 });
    s.connector.close();
    await expect(writer.done).rejects.toBeInstanceOf(TransferPeerClosedError);
    await expect(reader.waitForLayer(1, { timeoutMs: 5000 })).rejects.toBeInstanceOf(TransferPeerClosedError);
    table.release();
    await backToStart();
  });

  it('the endpoint closing mid-stream fails both sides', async () => {
    const { s, table, writer, reader, backToStart } = await channel('stream');
    writer.publishLayer(0);
    await reader.waitForLayer(0, { timeoutMs: 5000 });
    await s.endpoint?.close();
    await expect(writer.done).rejects.toBeInstanceOf(TransferPeerClosedError);
    await expect(reader.waitForLayer(1)).rejects.toBeDefined();
    table.release();
    await backToStart();
  });

  it('a byte corrupted in transit is a checksum failure on both sides; nothing adoptable, pools free', async () => {
    const s = await sides('stream');
    const start = s.free();
    if (s.endpoint === null || s.endpoint.descriptor.transport !== 'tcp') throw new Error('expected a TCP endpoint');
    const proxy = await corruptingProxy(s.endpoint.descriptor.port, 1500);
    cleanups.push(() => proxy.close());
    const table = filledTable(s.prefill, geometry.layers);
    const target: KvTarget = { kind: 'stream', endpoint: { ...s.endpoint.descriptor, port: proxy.port } };
    const writer = s.connector.openWriter(target, { table, tokenCount: TOKENS });
    if (writer === null) throw new Error('unreachable');
    const reader = s.reader(writer);
    for (let layer = 0; layer < geometry.layers; layer++) writer.publishLayer(layer);
    await expect(writer.done).rejects.toBeInstanceOf(TransferChecksumError);
    await expect(reader.waitForLayer(geometry.layers - 1, { timeoutMs: 5000 })).rejects.toBeInstanceOf(TransferChecksumError);
    expect(() => reader.adopt()).toThrow(TransferChecksumError);
    table.release();
    await backTo(s, start);
  });

  it('a full receiving pool is a typed rejection (no-blocks) on both sides', async () => {
    const { s, start, table, writer, reader } = await channel('stream', { decodeGeometry: { ...geometry, totalBlocks: 4 } });
    await expect(writer.done).rejects.toMatchObject({ name: 'TransferRejectedError', reason: 'no-blocks' });
    await expect(reader.waitForLayer(0, { timeoutMs: 5000 })).rejects.toMatchObject({ name: 'TransferRejectedError', reason: 'no-blocks' });
    expect(() => writer.publishLayer(0)).toThrow(HandoffCancelledError);
    table.release();
    expect(s.free()).toEqual(start);
  });

  it('a wrong token is refused (auth); the writer\'s blocks are released', async () => {
    const s = await sides('stream');
    const start = s.free();
    if (s.endpoint === null) throw new Error('unreachable');
    const table = filledTable(s.prefill, geometry.layers);
    const target: KvTarget = { kind: 'stream', endpoint: { ...s.endpoint.descriptor, token: 'not-the-token' } };
    const writer = s.connector.openWriter(target, { table, tokenCount: TOKENS });
    await expect(writer?.done).rejects.toMatchObject({ name: 'TransferRejectedError', reason: 'auth' });
    table.release();
    expect(s.free()).toEqual(start);
    expect(s.endpoint.openChannels).toBe(0);
  });

  it('interleaves several writers on one connection', async () => {
    const s = await sides('stream');
    const start = s.free();
    const tables = [filledTable(s.prefill, geometry.layers), filledTable(s.prefill, geometry.layers)];
    const writers = tables.map((table) => open(s, table));
    const readers = writers.map((writer) => s.reader(writer));
    for (let layer = 0; layer < geometry.layers; layer++) for (const writer of writers) writer.publishLayer(layer);
    await Promise.all(writers.map((w) => w.done));
    expect(s.connector.connections).toBe(1);
    for (const reader of readers) {
      const adopted = reader.adopt();
      expect(checksumOf(adopted, 2)).toBe(checksumOf(tables[0], 2));
      adopted.release();
    }
    for (const table of tables) table.release();
    await backTo(s, start);
  });
});

describe('KV channel arguments', () => {
  it('rejects bad targets, options and tickets with KvArgumentError', async () => {
    const s = await sides('stream');
    const table = filledTable(s.prefill, 0);
    expect(() => s.connector.openWriter({ kind: 'wire' } as unknown as KvTarget, { table, tokenCount: 1 })).toThrow(KvArgumentError);
    expect(() => s.connector.openWriter({ kind: 'stream', endpoint: { transport: 'tcp', host: 'x', port: 0, token: 't' } }, { table, tokenCount: 1 })).toThrow(/port/);
    expect(() => s.connector.openWriter({ kind: 'shared' }, { table, tokenCount: TOKENS + 100 })).toThrow(/tokenCount/);
    expect(() => s.connector.openWriter({ kind: 'shared' }, { table, tokenCount: 1, deadlineMs: -1 })).toThrow(/deadlineMs/);
    const writer = open(s, table);
    expect(() => openKvReader(writer.ticket, { pool: s.decode })).toThrow(/endpoint/);
    expect(() => openKvReader({ kind: 'x' } as unknown as KvWriter['ticket'], { pool: s.decode })).toThrow(KvArgumentError);
    s.reader(writer);
    expect(() => s.reader(writer)).toThrow(/already claimed/);
    expect(() => writer.publishLayer(1)).toThrow(KvArgumentError);
    writer.cancel();
    table.release();
  });

  it('shared: null when every handoff slot is in use', async () => {
    const s = await sides('shared');
    const table = filledTable(s.prefill, 0);
    const writers = Array.from({ length: geometry.handoffSlots }, () => open(s, table));
    expect(s.connector.openWriter(s.target, { table, tokenCount: TOKENS })).toBeNull();
    for (const writer of writers) writer.cancel();
    table.release();
    expect(s.prefill.stats().free).toBe(geometry.totalBlocks);
  });
});
