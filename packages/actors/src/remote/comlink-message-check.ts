/**
 * What a remote node's control subjects may carry: comlink messages of the one kind each
 * direction expects. A request (to the side that exposes an object) calls or reads one of its
 * methods by name, with RAW (or a registered HANDLER's) wire values as arguments; a reply (to the
 * side that wraps it) names the request's id and carries one wire value. Anything else — another
 * comlink operation (SET, CONSTRUCT, ENDPOINT: no MessagePort or property write crosses hosts),
 * a path into the object's prototype, a malformed argument list — is refused here with a
 * `RemoteProtocolError` naming what was wrong, before comlink sees it (comlink would throw from
 * its listener, or act on it).
 */
import { transferHandlers } from 'comlink/dist/esm/comlink.mjs';
import { RemoteProtocolError } from './remote-errors.js';

/** Which comlink messages an endpoint receives. */
export type ComlinkDirection = 'requests' | 'replies';

const REQUEST_TYPES = new Set(['APPLY', 'GET', 'RELEASE']);
const FORBIDDEN_NAMES = new Set(['__proto__', 'constructor', 'prototype']);

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function checkWireValue(value: unknown, where: string): void {
  if (!isRecord(value)) throw new RemoteProtocolError(`${where}: expected a comlink wire value (an object)`);
  if (value.type === 'RAW') return;
  if (value.type === 'HANDLER' && typeof value.name === 'string' && transferHandlers.has(value.name)) return;
  throw new RemoteProtocolError(`${where}: expected a RAW or known HANDLER wire value, got type ${JSON.stringify(value.type)}`);
}

/** Throws `RemoteProtocolError` unless `data` is a comlink message of `direction` that may cross hosts. */
export function checkComlinkMessage(data: unknown, direction: ComlinkDirection, subject: string): void {
  const where = `message on ${subject}`;
  if (!isRecord(data)) throw new RemoteProtocolError(`${where}: expected an object`);
  if (typeof data.id !== 'string' || data.id.length === 0) throw new RemoteProtocolError(`${where}: id: expected a non-empty string`);
  if (direction === 'replies') return checkWireValue(data, where);
  if (typeof data.type !== 'string' || !REQUEST_TYPES.has(data.type)) {
    throw new RemoteProtocolError(`${where}: type: expected one of ${[...REQUEST_TYPES].join(', ')}, got ${JSON.stringify(data.type)}`);
  }
  const path = data.path ?? [];
  if (!Array.isArray(path) || path.length > 1 || !path.every((p) => typeof p === 'string' && !FORBIDDEN_NAMES.has(p))) {
    throw new RemoteProtocolError(`${where}: path: expected at most one method name, got ${JSON.stringify(path)}`);
  }
  if (data.type === 'APPLY' && path.length !== 1) throw new RemoteProtocolError(`${where}: path: a call names one method`);
  const args = data.argumentList ?? [];
  if (!Array.isArray(args)) throw new RemoteProtocolError(`${where}: argumentList: expected an array`);
  args.forEach((arg, i) => checkWireValue(arg, `${where}: argumentList[${i}]`));
}
