/**
 * Data-plane socket addresses that reach across hosts. By default a node serves on a local
 * socket (abstract unix socket on Linux), which only processes of the same host can reach. With
 * `BATON_ACTORS_TCP_HOST` set (e.g. `0.0.0.0`), nodes serve on TCP there instead and advertise
 * `tcp://<BATON_ACTORS_ADVERTISE_HOST or the bind host>:<port>`, so refs carry an address that
 * other hosts connect to directly. Either form is accepted on connect.
 */
import type { ListenOptions, NetConnectOpts } from 'node:net';

const TCP = 'tcp://';

/** The TCP bind host for data-plane servers, or null for local sockets. */
export function tcpBindHost(): string | null {
  const host = process.env.BATON_ACTORS_TCP_HOST;
  return host === undefined || host === '' ? null : host;
}

/** The address to advertise for a TCP server bound to `port`. */
export function tcpAddress(port: number): string {
  const host = process.env.BATON_ACTORS_ADVERTISE_HOST || tcpBindHost() || '127.0.0.1';
  return `${TCP}${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
}

/** Listen options for a fresh server: TCP port 0 on the bind host, else the local path. */
export function listenOptions(localPath: string): ListenOptions {
  const host = tcpBindHost();
  return host === null ? { path: localPath } : { host, port: 0 };
}

/** Connect options for `address` (a `tcp://host:port` or a local socket path). */
export function connectOptions(address: string): NetConnectOpts {
  if (!address.startsWith(TCP)) return { path: address };
  const rest = address.slice(TCP.length);
  const colon = rest.lastIndexOf(':');
  return { host: rest.slice(0, colon), port: Number(rest.slice(colon + 1)) };
}
