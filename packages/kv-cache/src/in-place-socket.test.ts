// takeOverForInPlaceReads: an accepted, paused connection is read straight into caller memory;
// the server stops counting the accepted socket (it closes cleanly); a socket that already read
// is left alone.
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { takeOverForInPlaceReads } from './in-place-socket.js';

const servers: Server[] = [];
const sockets: Socket[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await Promise.all(servers.splice(0).map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
});

async function listen(pauseOnConnect: boolean): Promise<{ server: Server; port: number; accepted: Promise<Socket> }> {
  const server = createServer({ pauseOnConnect });
  servers.push(server);
  const accepted = once(server, 'connection').then(([socket]) => socket as Socket);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return { server, port: address.port, accepted };
}

describe('takeOverForInPlaceReads', () => {
  it('reads every byte of a paused accepted connection into the caller memory, and can answer on it', async () => {
    const { server, port, accepted } = await listen(true);
    const client = connect(port, '127.0.0.1');
    sockets.push(client);
    const payload = Buffer.alloc(3 * 1024 * 1024 + 7);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 31) & 0xff;
    const target = new Uint8Array(new SharedArrayBuffer(payload.length));
    const spare = new Uint8Array(64);
    let got = 0;
    let complete: () => void = () => undefined;
    const arrived = new Promise<void>((resolve) => (complete = resolve));
    const socket = takeOverForInPlaceReads(await accepted, {
      // NOTE: a read target must never be empty (libuv fails the read with ENOBUFS).
      buffer: () => (got < target.length ? target.subarray(got, Math.min(got + 40_000, target.length)) : spare),
      callback: (bytes) => {
        got += bytes;
        if (got === target.length) complete();
        return true;
      },
    });
    expect(socket).not.toBeNull();
    if (socket === null) return;
    sockets.push(socket);
    client.write(payload);
    await arrived;
    expect(Buffer.from(target).equals(payload)).toBe(true);
    const answer = once(client, 'data');
    socket.write(Buffer.of(42));
    expect([...((await answer)[0] as Buffer)]).toEqual([42]);
    // The server no longer counts the taken-over connection: it closes while the socket is open.
    const count = await new Promise<number>((resolve, reject) => server.getConnections((error, n) => (error ? reject(error) : resolve(n))));
    expect(count).toBe(0);
    const closed = once(client, 'close');
    socket.destroy();
    await closed;
  });

  it('returns null and leaves the socket working for a connection that is already flowing', async () => {
    const { port, accepted } = await listen(false);
    const client = connect(port, '127.0.0.1');
    sockets.push(client);
    const socket = await accepted;
    sockets.push(socket);
    socket.on('data', () => undefined);
    expect(takeOverForInPlaceReads(socket, { buffer: new Uint8Array(16), callback: () => true })).toBeNull();
    const data = once(socket, 'data');
    client.write('hello');
    expect(((await data)[0] as Buffer).toString()).toBe('hello');
  });
});
