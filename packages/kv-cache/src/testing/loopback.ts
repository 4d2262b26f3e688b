/**
 * Test and bench helper: a one-shot loopback TCP listener. `port` is where to dial; `accepted`
 * resolves with the first connection, after which the listener closes (the connection stays).
 */
import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';

/** A listener on 127.0.0.1 that accepts exactly one connection. */
export interface LoopbackListener {
  readonly port: number;
  readonly accepted: Promise<Socket>;
}

/** Listens on an ephemeral loopback port for one connection. */
export async function listenOnce(): Promise<LoopbackListener> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the loopback listener has no TCP port');
  const accepted = (once(server, 'connection') as Promise<[Socket]>).then(([socket]) => {
    server.close();
    return socket;
  });
  return { port: address.port, accepted };
}
