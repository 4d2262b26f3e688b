/**
 * Test helper: a loopback TCP proxy in front of a KvEndpoint that flips one byte of the
 * writer-to-endpoint direction at a given stream offset (a link that corrupts data in transit).
 */
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';

/** A running proxy: `port` to dial instead of the endpoint's; `close()` stops it and its connections. */
export interface CorruptingProxy {
  readonly port: number;
  close(): Promise<void>;
}

/** Forwards 127.0.0.1:proxy.port to 127.0.0.1:`targetPort`, XOR-ing byte `flipAt` (from the client) with 0xff. */
export async function corruptingProxy(targetPort: number, flipAt: number): Promise<CorruptingProxy> {
  const sockets: Socket[] = [];
  const server: Server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    sockets.push(client, upstream);
    let seen = 0;
    client.on('data', (chunk: Buffer) => {
      if (flipAt >= seen && flipAt < seen + chunk.length) {
        chunk = Buffer.from(chunk);
        chunk[flipAt - seen] ^= 0xff;
      }
      seen += chunk.length;
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.on('error', () => undefined);
    upstream.on('error', () => undefined);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the proxy has no TCP port');
  return {
    port: address.port,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
