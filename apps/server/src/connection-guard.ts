/**
 * ConnectionGuard: caps open connections and knows which ones are busy with a response (for the
 * clientError handler and for shutdown).
 *
 * Node's own timers bound the time a connection can hold on to (the server sets them):
 * `headersTimeout` and `requestTimeout` give a request that trickles in, or a connection that
 * never sends one, a 408; `keepAliveTimeout` closes a connection idle after a response.
 *
 * Invariants: at most `maxConnections` sockets are open after any 'connection' event; a socket
 * with a request whose body has fully arrived is never closed to make room (its response is in
 * progress); a socket is forgotten when it closes.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { ApiError } from './openai-error.js';
import { writeRawError } from './raw-error-response.js';

/** Options of {@link ConnectionGuard}. */
export interface ConnectionGuardOptions {
  maxConnections: number;
}

interface Connection {
  /** The request being served, or null between requests. */
  req: IncomingMessage | null;
  res: ServerResponse | null;
  /** When the connection last became idle or started a request (ms, monotonic). */
  since: number;
}

/** Watches one http.Server's connections. */
export class ConnectionGuard {
  readonly #connections = new Map<Socket, Connection>();
  readonly #options: ConnectionGuardOptions;
  /** Connections refused at the cap: they got a 503 and must not start a request. */
  readonly #refused = new WeakSet<Socket>();
  #settledWaiters: Array<() => void> = [];

  constructor(server: Server, options: ConnectionGuardOptions) {
    this.#options = options;
    server.on('connection', (socket: Socket) => this.#onConnection(socket));
    server.on('request', (req: IncomingMessage, res: ServerResponse) => this.#onRequest(req, res));
  }

  /** Open connections. */
  get size(): number {
    return this.#connections.size;
  }

  /** True when a response on `socket` has already sent its headers (a raw error would corrupt it). */
  responseStarted(socket: Socket): boolean {
    return this.#connections.get(socket)?.res?.headersSent === true;
  }

  /** True for a connection refused at the cap (its request, if one arrives, must be dropped). */
  refused(socket: Socket): boolean {
    return this.#refused.has(socket);
  }

  /** Resolves once no response is in progress, or after `timeoutMs`. */
  settled(timeoutMs: number): Promise<void> {
    if (this.#busy() === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.#settledWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Closes every connection at once. */
  destroyAll(): void {
    for (const socket of this.#connections.keys()) socket.destroy();
  }

  #onConnection(socket: Socket): void {
    if (this.#connections.size >= this.#options.maxConnections) {
      const victim = this.#evictable();
      if (victim === null) {
        this.#refused.add(socket);
        writeRawError(socket, tooManyConnections(this.#options.maxConnections));
        return;
      }
      victim.destroy();
      this.#connections.delete(victim);
    }
    this.#connections.set(socket, { req: null, res: null, since: performance.now() });
    socket.once('close', () => {
      this.#connections.delete(socket);
      this.#notifyIfSettled();
    });
  }

  #onRequest(req: IncomingMessage, res: ServerResponse): void {
    const socket = req.socket as Socket;
    const c = this.#connections.get(socket);
    if (c === undefined) return;
    c.req = req;
    c.res = res;
    c.since = performance.now();
    res.once('close', () => {
      if (c.res !== res) return;
      c.req = null;
      c.res = null;
      c.since = performance.now();
      this.#notifyIfSettled();
    });
  }

  /** The connection to close for a new one: idle, or stuck receiving a request; the oldest such. */
  #evictable(): Socket | null {
    let best: Socket | null = null;
    let bestSince = Infinity;
    for (const [socket, c] of this.#connections) {
      const stalled = c.req === null || !c.req.complete;
      if (stalled && c.since < bestSince) {
        best = socket;
        bestSince = c.since;
      }
    }
    return best;
  }

  #busy(): number {
    let n = 0;
    for (const c of this.#connections.values()) if (c.res !== null) n += 1;
    return n;
  }

  #notifyIfSettled(): void {
    if (this.#settledWaiters.length === 0 || this.#busy() > 0) return;
    const waiters = this.#settledWaiters;
    this.#settledWaiters = [];
    for (const w of waiters) w();
  }
}

function tooManyConnections(max: number): ApiError {
  return new ApiError({
    status: 503, type: 'service_unavailable', code: 'too_many_connections', headers: { 'retry-after': '1' },
    message: `the server has ${max} open connections, each busy with a response; retry shortly`,
  });
}
