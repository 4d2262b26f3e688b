/**
 * Raw HTTP over a plain TCP socket, for the tests that send what no HTTP client library will:
 * malformed request lines, conflicting length headers, NUL bytes, a body that never finishes, a
 * forged Host. Parses the first response the server writes back.
 */
import net from 'node:net';

/** The first response on a connection, and whether the server closed it. */
export interface RawResponse {
  /** null when the server closed the connection without answering. */
  status: number | null;
  /** Lower-case names. */
  headers: Record<string, string>;
  body: string;
  /** The server ended the connection (before `waitMs` ran out). */
  closed: boolean;
}

/** Where a base URL (`http://127.0.0.1:1234`) listens. */
export function addressOf(url: string): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port) };
}

/** Connects to `url`'s host and port. */
export function connect(url: string): Promise<net.Socket> {
  const { host, port } = addressOf(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, host, () => resolve(socket));
    socket.once('error', reject);
  });
}

/**
 * Collects what the server sends on `socket` until it closes the connection, `until` accepts the
 * bytes so far, or `waitMs` passes.
 */
export function collect(socket: net.Socket, waitMs: number, until: (data: string) => boolean = () => false): Promise<RawResponse> {
  return new Promise((resolve) => {
    let data = '';
    const done = (closed: boolean): void => {
      clearTimeout(timer);
      socket.removeAllListeners('data');
      resolve({ ...parseResponse(data), closed });
    };
    const timer = setTimeout(() => done(false), waitMs);
    socket.on('data', (d: Buffer) => {
      data += d.toString('latin1');
      if (until(data)) done(false);
    });
    socket.on('error', () => undefined);
    socket.once('close', () => done(true));
  });
}

/** Sends `text` on a new connection; resolves with the first response (then closes the socket). */
export async function rawRequest(url: string, text: string | Buffer, waitMs = 10_000, until?: (data: string) => boolean): Promise<RawResponse> {
  const socket = await connect(url);
  const response = collect(socket, waitMs, until);
  socket.write(text);
  const r = await response;
  socket.destroy();
  return r;
}

/** The `Host` header line a request to `url` needs. */
export function hostLine(url: string): string {
  return `Host: ${new URL(url).host}\r\n`;
}

function parseResponse(data: string): Omit<RawResponse, 'closed'> {
  const end = data.indexOf('\r\n\r\n');
  if (end < 0) return { status: null, headers: {}, body: '' };
  const [statusLine, ...lines] = data.slice(0, end).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? Number.NaN);
  return { status: Number.isNaN(status) ? null : status, headers, body: data.slice(end + 4) };
}
