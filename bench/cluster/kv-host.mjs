// bench:cluster — the receiving host of the KV-stream measurement, a process of its own: a
// decode-side KvEndpoint into its own pool (the one a decode worker runs) and, for the baseline,
// a plain TCP server that copies the same number of bytes into a buffer and acks with one byte.
// Both listen on the host given (another loopback address: an emulated host). Messages (IPC):
//   parent -> { type: 'start', geometry, host, bytes }   child -> { type: 'ready', endpoint, plainPort }
//   parent -> { type: 'claim', ticket }                  child -> { type: 'claimed' } (adopted, released)
import { createServer } from 'node:net';
import { BlockPool, KvEndpoint, openKvReader } from '@baton/kv-cache';

let pool = null;
let endpoint = null;
process.on('message', async (m) => {
  if (m.type === 'start') {
    pool = BlockPool.create({ ...m.geometry, maxOwners: 1 });
    endpoint = await KvEndpoint.listen({ pool, host: m.host });
    const buffer = Buffer.alloc(m.bytes);
    const plain = createServer((socket) => {
      socket.setNoDelay(true);
      let got = 0;
      socket.on('data', (chunk) => {
        // NOTE: the plain copy lands in memory, as the KV stream's bytes land in the pool.
        chunk.copy(buffer, got % m.bytes);
        got += chunk.length;
        if (got % m.bytes === 0) socket.write(Buffer.of(1));
      });
    });
    await new Promise((resolve) => plain.listen(0, m.host, resolve));
    plain.unref();
    process.send({ type: 'ready', endpoint: endpoint.descriptor, plainPort: plain.address().port });
  } else if (m.type === 'claim') {
    const reader = openKvReader(m.ticket, { pool, endpoint });
    await reader.waitForLayer(pool.geometry.layers - 1, { timeoutMs: 30_000 });
    reader.adopt().release();
    process.send({ type: 'claimed' });
  }
});
process.on('disconnect', () => process.exit(0));
