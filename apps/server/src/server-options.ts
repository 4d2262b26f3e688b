/**
 * ServerOptions: what `createServer` accepts, its defaults, and `resolveServerOptions`, which
 * checks every field of an untrusted options object and fills in the defaults.
 *
 * Invariants of {@link ResolvedServerOptions}: every duration and count is a positive integer;
 * `headersTimeoutMs <= bodyTimeoutMs` (Node requires it: the body cannot arrive before the
 * headers); `apiKey` is null or a non-empty string without whitespace.
 */
import type { EngineOptionsInput } from '@baton/engine';
import type { ServingEngine } from './serving-engine.js';

/** Options of `createServer`. */
export interface ServerOptions {
  /** The engine to serve (the server takes ownership). Default: `createEngine(engineOptions)`. */
  engine?: ServingEngine;
  /** Options for the engine the server creates when `engine` is absent. */
  engineOptions?: EngineOptionsInput;
  /** The model id clients name (`model` field, GET /v1/models). Default: the engine's `options.model`. */
  modelName?: string;
  /** Largest request body accepted, bytes (default 1 MiB). */
  bodyLimitBytes?: number;
  /** In-flight requests still running this long after close() began are aborted (default 10 000 ms). */
  shutdownDeadlineMs?: number;
  /** A request's headers must arrive within this long (from its first byte; for a new connection, from the connection), or it gets 408 (default 10 000 ms). */
  headersTimeoutMs?: number;
  /** A request's headers and body must arrive within this long of its first byte, or it gets 408 (default 30 000 ms). */
  bodyTimeoutMs?: number;
  /** A kept-alive connection with no request in flight is closed after this long (default 5 000 ms). */
  idleTimeoutMs?: number;
  /**
   * Most open client connections (default 512). At the cap a new connection takes the place of
   * the longest-idle or longest-stalled one (no request, or a request whose body is incomplete);
   * when every connection is busy with a response, the new one gets 503 with Retry-After.
   */
  maxConnections?: number;
  /** Require `Authorization: Bearer <apiKey>` on every route but GET /health (default: no key). */
  apiKey?: string | null;
  /** Extra Host header names accepted on a loopback bind, beyond localhost, 127.0.0.1 and [::1]. */
  allowedHosts?: readonly string[];
  /** Allow listening on a non-loopback address without an API key (default false: listen() refuses). */
  insecure?: boolean;
}

/** The options after defaults and checks (engine fields excluded). */
export interface ResolvedServerOptions {
  bodyLimitBytes: number;
  shutdownDeadlineMs: number;
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
  idleTimeoutMs: number;
  maxConnections: number;
  apiKey: string | null;
  allowedHosts: readonly string[];
  insecure: boolean;
}

/** The defaults of every option that has one. */
export const DEFAULT_SERVER_OPTIONS: Readonly<ResolvedServerOptions> = Object.freeze({
  bodyLimitBytes: 1024 * 1024,
  shutdownDeadlineMs: 10_000,
  headersTimeoutMs: 10_000,
  bodyTimeoutMs: 30_000,
  idleTimeoutMs: 5_000,
  maxConnections: 512,
  apiKey: null,
  allowedHosts: Object.freeze([]),
  insecure: false,
});

/** A server option with a wrong type or value; `option` names it. */
export class ServerOptionsError extends Error {
  readonly option: string;

  constructor(option: string, problem: string) {
    super(`invalid server option "${option}": ${problem}`);
    this.name = 'ServerOptionsError';
    this.option = option;
  }
}

/**
 * Fills in defaults and checks every field.
 * @throws {ServerOptionsError} naming the first offending option.
 */
export function resolveServerOptions(o: ServerOptions): ResolvedServerOptions {
  const d = DEFAULT_SERVER_OPTIONS;
  const resolved: ResolvedServerOptions = {
    bodyLimitBytes: positiveInt(o.bodyLimitBytes, 'bodyLimitBytes', d.bodyLimitBytes),
    shutdownDeadlineMs: nonNegativeInt(o.shutdownDeadlineMs, 'shutdownDeadlineMs', d.shutdownDeadlineMs),
    headersTimeoutMs: positiveInt(o.headersTimeoutMs, 'headersTimeoutMs', d.headersTimeoutMs),
    bodyTimeoutMs: positiveInt(o.bodyTimeoutMs, 'bodyTimeoutMs', Math.max(d.bodyTimeoutMs, o.headersTimeoutMs ?? 0)),
    idleTimeoutMs: positiveInt(o.idleTimeoutMs, 'idleTimeoutMs', d.idleTimeoutMs),
    maxConnections: positiveInt(o.maxConnections, 'maxConnections', d.maxConnections),
    apiKey: apiKey(o.apiKey),
    allowedHosts: hostList(o.allowedHosts),
    insecure: o.insecure === undefined ? d.insecure : bool(o.insecure, 'insecure'),
  };
  if (resolved.headersTimeoutMs > resolved.bodyTimeoutMs) {
    throw new ServerOptionsError('headersTimeoutMs', `(${resolved.headersTimeoutMs}) must not exceed bodyTimeoutMs (${resolved.bodyTimeoutMs})`);
  }
  return resolved;
}

function positiveInt(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new ServerOptionsError(name, `must be a positive integer, got ${String(value)}`);
  }
  return value;
}

function nonNegativeInt(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new ServerOptionsError(name, `must be a non-negative integer, got ${String(value)}`);
  }
  return value;
}

function bool(value: unknown, name: string): boolean {
  if (typeof value !== 'boolean') throw new ServerOptionsError(name, `must be a boolean, got ${typeof value}`);
  return value;
}

function apiKey(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string' || value.length === 0 || /\s/.test(value)) {
    throw new ServerOptionsError('apiKey', 'must be a non-empty string without whitespace, or null for no key');
  }
  return value;
}

function hostList(value: unknown): readonly string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((h) => typeof h === 'string' && h.length > 0)) {
    throw new ServerOptionsError('allowedHosts', 'must be an array of non-empty host names');
  }
  return value.map((h: string) => h.toLowerCase());
}
