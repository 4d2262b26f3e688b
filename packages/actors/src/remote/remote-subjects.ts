/**
 * Subject names and the heartbeat format of remote nodes (placement 'remote').
 * Every subject of one node starts with `<prefix>.node.<nodeId>.`; node ids are single NATS tokens
 * (letters, digits, `-`, `_`), so a wildcard subscription `<prefix>.node.*.hb` sees every node.
 *   hb        node -> anyone   JSON `NodeHeartbeat`, every `intervalMs`
 *   ctl.in    system -> node   comlink `WorkerControl` calls (V8-serialized)
 *   ctl.out   node -> system   their answers
 *   host.in   node -> system   comlink `HostApi` calls (crash reports, reconnects, locates)
 *   host.out  system -> node   their answers
 *   fence     system -> node   "you were declared dead": the node ends its actors and exits
 */
import { RemoteProtocolError } from './remote-errors.js';

/** Default subject prefix. */
export const DEFAULT_SUBJECT_PREFIX = 'baton';

const TOKEN = /^[A-Za-z0-9_-]{1,64}$/;

/** Throws `RemoteProtocolError` unless `id` is one NATS subject token. */
export function checkNodeId(id: unknown): string {
  if (typeof id !== 'string' || !TOKEN.test(id)) {
    throw new RemoteProtocolError(`node id must be 1-64 letters, digits, '-' or '_', got ${JSON.stringify(id)}`);
  }
  return id;
}

/** The subjects of node `nodeId`. */
export function nodeSubjects(prefix: string, nodeId: string) {
  const base = `${prefix}.node.${nodeId}`;
  return {
    heartbeat: `${base}.hb`,
    controlIn: `${base}.ctl.in`,
    controlOut: `${base}.ctl.out`,
    hostIn: `${base}.host.in`,
    hostOut: `${base}.host.out`,
    fence: `${base}.fence`,
  } as const;
}

/** The subscription that sees every node's heartbeat. */
export function allHeartbeats(prefix: string): string {
  return `${prefix}.node.*.hb`;
}

/** What a node publishes on its heartbeat subject. `meta` is the application's (e.g. a worker registration). */
export interface NodeHeartbeat {
  readonly v: 1;
  readonly node: string;
  /** The data-plane socket address at which the node's actors are reached. */
  readonly address: string;
  readonly pid: number;
  readonly seq: number;
  readonly intervalMs: number;
  readonly meta: unknown;
}

/** Parses a heartbeat; throws `RemoteProtocolError` naming the bad field. */
export function parseHeartbeat(bytes: Uint8Array): NodeHeartbeat {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw new RemoteProtocolError('heartbeat is not JSON');
  }
  if (typeof value !== 'object' || value === null) throw new RemoteProtocolError('heartbeat is not an object');
  const h = value as Record<string, unknown>;
  if (h.v !== 1) throw new RemoteProtocolError(`heartbeat.v: expected 1, got ${JSON.stringify(h.v)}`);
  checkNodeId(h.node);
  if (typeof h.address !== 'string' || h.address.length === 0) throw new RemoteProtocolError('heartbeat.address: expected a non-empty string');
  for (const key of ['pid', 'seq', 'intervalMs'] as const) {
    if (typeof h[key] !== 'number' || !Number.isFinite(h[key])) throw new RemoteProtocolError(`heartbeat.${key}: expected a number`);
  }
  return h as unknown as NodeHeartbeat;
}

/** Encodes a heartbeat. */
export function encodeHeartbeat(h: NodeHeartbeat): Uint8Array {
  return Buffer.from(JSON.stringify(h));
}
