// bench:cluster — the KV stream between hosts against a plain TCP copy of the same bytes, in the
// same run: one prompt's KV (baton-tiny's geometry) streamed, layer by layer and checksummed,
// from this process into a decode-side KvEndpoint in another process listening on another
// loopback address (an emulated host), timed from opening the writer to the endpoint having
// verified every layer; the baseline writes the same bytes to a plain socket of the same process
// and waits for its one-byte ack. Rounds interleave the two; medians and the per-round ratio.
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { BlockPool, KvConnector } from '@baton/kv-cache';
import { describeModel } from '@baton/model';

const KV_HOST = fileURLToPath(new URL('./kv-host.mjs', import.meta.url));
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

/** Runs the comparison; returns the table's lines and the median ratio. */
export async function benchKvStream({ model, tokens, rounds, host }) {
  const { config } = describeModel(model);
  const blockSize = 16;
  const blocks = Math.ceil(tokens / blockSize);
  const geometry = { blockSize, layers: config.nLayer, heads: config.nHead, headDim: config.nEmbd / config.nHead, totalBlocks: blocks * 4, handoffSlots: 8 };
  const bytes = blocks * blockSize * config.nLayer * 2 * config.nEmbd * 4;
  const pool = BlockPool.create({ ...geometry, maxOwners: 1 });
  new Float32Array(pool.data.buffer).fill(0.25);
  const child = fork(KV_HOST, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const next = async () => (await once(child, 'message'))[0];
  const connector = new KvConnector({ pool });
  let socket = null;
  try {
    child.send({ type: 'start', geometry, host, bytes });
    const ready = await next();
    socket = connect(ready.plainPort, host);
    await once(socket, 'connect');
    socket.setNoDelay(true);
    const payload = Buffer.alloc(bytes, 3);
    const plainOnce = async () => {
      const t = performance.now();
      const acked = once(socket, 'data');
      socket.write(payload);
      await acked;
      return performance.now() - t;
    };
    const streamOnce = async () => {
      const table = pool.createTable();
      if (!table.ensureCapacity(tokens)) throw new Error('bench pool too small');
      const t = performance.now();
      const writer = connector.openWriter({ kind: 'stream', endpoint: ready.endpoint }, { table, tokenCount: tokens, sequenceId: 'bench' });
      if (writer === null) throw new Error('no KV channel free');
      const claimed = next();
      child.send({ type: 'claim', ticket: writer.ticket });
      for (let layer = 0; layer < geometry.layers; layer++) writer.publishLayer(layer);
      await writer.done;
      const ms = performance.now() - t;
      table.release();
      await claimed;
      return ms;
    };
    const plain = [];
    const stream = [];
    for (let round = -2; round < rounds; round++) {
      const order = round % 2 === 0 ? [['plain', plainOnce], ['stream', streamOnce]] : [['stream', streamOnce], ['plain', plainOnce]];
      const got = {};
      for (const [name, once1] of order) got[name] = await once1();
      if (round < 0) continue; // warm-up
      plain.push(got.plain);
      stream.push(got.stream);
    }
    const mib = bytes / 2 ** 20;
    const ratio = median(stream.map((s, i) => plain[i] / s));
    const rate = (ms) => (mib / (ms / 1000)).toFixed(0);
    return {
      ratio,
      lines: [
        `KV between hosts: ${tokens}-token prompt of ${model} (${mib.toFixed(1)} MiB) to ${host} · ${rounds} interleaved rounds`,
        '| path | median ms | MiB/s | vs plain TCP: median of per-round ratios | ratio of medians |',
        '|---|---|---|---|---|',
        `| plain TCP copy (baseline) | ${median(plain).toFixed(2)} | ${rate(median(plain))} | 100% | 100% |`,
        `| KV stream (layer by layer, checksummed, into the decode pool) | ${median(stream).toFixed(2)} | ${rate(median(stream))} | ${(100 * ratio).toFixed(0)}% (goal >= 80%) | ${((100 * median(plain)) / median(stream)).toFixed(0)}% |`,
      ],
    };
  } finally {
    socket?.destroy();
    connector.close();
    child.kill('SIGTERM');
  }
}
