/**
 * Test support for the server tests: a real Baton server (built-in tiny model on wasm) listening
 * on a free loopback port, and small helpers for raw HTTP calls.
 */
import { createServer, type BatonServer, type ServerOptions } from '@baton/server';
import type { EngineOptionsInput } from '@baton/engine';

/** A listening server and its base URL. */
export interface RunningServer {
  server: BatonServer;
  url: string;
}

/** Starts a server on 127.0.0.1 with a free port. Close it with `server.close()`. */
export async function startServer(engineOptions: EngineOptionsInput = {}, options: Omit<ServerOptions, 'engineOptions'> = {}): Promise<RunningServer> {
  const server = await createServer({ engineOptions: { model: 'baton-tiny', backend: 'wasm', ...engineOptions }, ...options });
  const url = await server.listen({ host: '127.0.0.1', port: 0 });
  return { server, url };
}

/** POSTs a JSON (or raw string) body. */
export function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** Polls a condition until it holds (shared with the other cross-thread tests). */
export { eventually } from '../support/eventually.js';
