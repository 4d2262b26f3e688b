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

/** Polls `check` every 50 ms until it returns true or `timeoutMs` passes; returns the last verdict. */
export async function eventually(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}
