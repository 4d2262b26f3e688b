/**
 * What a serving worker says about itself, carried as the `meta` of its remote node's heartbeat
 * (`<prefix>.node.<id>.hb`, every heartbeat, so capacity stays current): its role, model id,
 * backend, capacity and where its KV endpoint may be reached. Parsing names the first bad field.
 * Subjects of the cluster layer (besides the node's own, see @baton/actors remote placement):
 *   <prefix>.node.<id>.refused   scheduler -> worker   JSON { reason }: registration refused
 */
import { EngineError } from '../errors.js';

/** Roles a worker serves. */
export type WorkerRole = 'prefill' | 'decode';

/** A worker's registration (JSON). */
export interface WorkerRegistration {
  readonly v: 1;
  readonly role: WorkerRole;
  /** Model id: the model name or directory the worker serves; must equal the scheduler's. */
  readonly model: string;
  readonly backend: string;
  /** Host name others reach this worker's sockets at (informational on one machine). */
  readonly host: string;
  readonly capacity: {
    /** Actor slots this worker offers (one serving actor each). */
    readonly slots: number;
    /** Actors it hosts now. */
    readonly actors: number;
    /** Free blocks of its actors' KV pools (null before an actor with a pool runs there). */
    readonly freeKvBlocks: number | null;
  };
}

/** A registration or control message that does not follow the cluster protocol (logged, ignored). */
export class ClusterProtocolError extends EngineError {
  readonly field: string;
  constructor(field: string, problem: string) {
    super(`malformed worker registration: ${field}: ${problem}`);
    this.field = field;
  }
}

/** The subject on which the scheduler tells worker `nodeId` it was refused. */
export function refusedSubject(prefix: string, nodeId: string): string {
  return `${prefix}.node.${nodeId}.refused`;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses a heartbeat's `meta` as a registration; throws `ClusterProtocolError`. */
export function parseWorkerRegistration(meta: unknown): WorkerRegistration {
  if (!isRecord(meta)) throw new ClusterProtocolError('meta', 'expected an object');
  if (meta.v !== 1) throw new ClusterProtocolError('meta.v', `expected 1, got ${JSON.stringify(meta.v)}`);
  if (meta.role !== 'prefill' && meta.role !== 'decode') throw new ClusterProtocolError('meta.role', `expected 'prefill' or 'decode', got ${JSON.stringify(meta.role)}`);
  for (const key of ['model', 'backend', 'host'] as const) {
    if (typeof meta[key] !== 'string' || (meta[key] as string).length === 0) throw new ClusterProtocolError(`meta.${key}`, 'expected a non-empty string');
  }
  const c = meta.capacity;
  if (!isRecord(c)) throw new ClusterProtocolError('meta.capacity', 'expected an object');
  for (const key of ['slots', 'actors'] as const) {
    if (!Number.isInteger(c[key]) || (c[key] as number) < 0) throw new ClusterProtocolError(`meta.capacity.${key}`, 'expected a non-negative integer');
  }
  if (c.freeKvBlocks !== null && (!Number.isInteger(c.freeKvBlocks) || (c.freeKvBlocks as number) < 0)) {
    throw new ClusterProtocolError('meta.capacity.freeKvBlocks', 'expected a non-negative integer or null');
  }
  return meta as unknown as WorkerRegistration;
}
