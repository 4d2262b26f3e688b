/**
 * `startClusterWorker`: one serving worker of a cluster (`baton worker` runs one per `--count`):
 * a remote node whose heartbeat carries its registration (role, model id, backend, capacity with
 * the free KV blocks of the actors it hosts). The engine's scheduler places prefill or decode
 * actors on it; they run on this process's main thread and stream KV over their own TCP
 * endpoints. A refusal (model mismatch) or a fence (declared dead) resolves `ended` with the reason.
 * What only this host knows is applied to every actor placed here (`localInit`): its model
 * backend (`backend`, initialized before it registers, so a missing one fails here and now), and
 * the interface its actors' KV endpoints listen on and the host they advertise.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { hostname } from 'node:os';
import { DEFAULT_SUBJECT_PREFIX, startRemoteNode, type RemoteNode } from '@baton/actors';
import { initBackend, type BackendName } from '@baton/model';
import { EngineError } from '../errors.js';
import type { KvListen, ServingActorStats } from '../protocol.js';
import { refusedSubject, type WorkerRegistration, type WorkerRole } from './worker-registration.js';

/** The scheduler refused this worker (e.g. its model differs). */
export class WorkerRefusedError extends EngineError {}

/** Options of `startClusterWorker`. */
export interface ClusterWorkerOptions {
  readonly nats: string;
  readonly role: WorkerRole;
  readonly model: string;
  /** The model backend every actor on this worker runs (whatever the scheduler's engine uses). */
  readonly backend: BackendName;
  /** Interface the actors' KV endpoints listen on (decode: KV handoffs; prefill: KV returned or moved to it; default 127.0.0.1; '0.0.0.0' for every one). */
  readonly kvHost?: string;
  /**
   * Host other hosts reach this worker at: written into its registration and its KV endpoints'
   * descriptors (default: `kvHost`, or 127.0.0.1 when that is a wildcard). NOTE: the actors'
   * message sockets take theirs from BATON_ACTORS_TCP_HOST / BATON_ACTORS_ADVERTISE_HOST.
   */
  readonly advertiseHost?: string;
  /** Unique in the cluster (default `<host>-<role>-<pid>`). */
  readonly nodeId?: string;
  readonly prefix?: string;
  readonly heartbeatMs?: number;
  /** Actors this worker may host (default 1). */
  readonly slots?: number;
  readonly log?: (message: string) => void;
}

/** A running worker. */
export interface ClusterWorker {
  readonly nodeId: string;
  readonly node: RemoteNode;
  /** Resolves when the worker must end: refused by a scheduler, or fenced after being declared dead. */
  readonly ended: Promise<Error>;
  close(): Promise<void>;
}

/** Connects, starts the node and its registration heartbeats. */
export async function startClusterWorker(o: ClusterWorkerOptions): Promise<ClusterWorker> {
  const prefix = o.prefix ?? DEFAULT_SUBJECT_PREFIX;
  const host = hostname();
  const nodeId = o.nodeId ?? `${host.replace(/[^A-Za-z0-9_-]/g, '_')}-${o.role}-${process.pid}`;
  const log = o.log ?? ((message: string) => console.warn(`[worker ${nodeId}] ${message}`));
  await initBackend(o.backend);
  const kvListen: KvListen = { host: o.kvHost ?? '127.0.0.1', advertiseHost: o.advertiseHost ?? null };
  const connection: NatsConnection = await connect({ servers: o.nats, name: `baton-worker-${nodeId}`, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
  let end: (reason: Error) => void = () => {};
  const ended = new Promise<Error>((resolve) => (end = resolve));
  const refused = connection.subscribe(refusedSubject(prefix, nodeId), {
    callback: (_error, msg) => {
      let reason = 'refused by the scheduler';
      try {
        reason = String((JSON.parse(msg.string()) as { reason?: unknown }).reason ?? reason);
      } catch {
        log('ignored a malformed refusal');
        return;
      }
      end(new WorkerRefusedError(reason));
    },
  });
  let node: RemoteNode | null = null;
  const freeKvBlocks = async (): Promise<number | null> => {
    if (node === null) return null;
    let free: number | null = null;
    for (const id of node.actorIds) {
      const ref = node.refOf(id);
      const stats = (await ref?.ask({ type: 'stats' }, { timeoutMs: 1_000 }).catch(() => null)) as ServingActorStats | null | undefined;
      if (stats?.ownPool != null) free = (free ?? 0) + stats.ownPool.free;
    }
    return free;
  };
  const registration = async (): Promise<WorkerRegistration> => ({
    v: 1, role: o.role, model: o.model, backend: o.backend, host: o.advertiseHost ?? host,
    capacity: { slots: o.slots ?? 1, actors: node?.actorIds.size ?? 0, freeKvBlocks: await freeKvBlocks() },
  });
  node = await startRemoteNode({
    connection, servers: [o.nats], nodeId, prefix, heartbeatMs: o.heartbeatMs, log, meta: registration,
    localInit: (init) => localInit(init, o.backend, kvListen),
    onFenced: () => end(new WorkerRefusedError(`worker '${nodeId}' was declared dead by its scheduler (silent too long)`)),
  });
  const started = node;
  return {
    nodeId,
    node: started,
    ended,
    async close() {
      await started.close();
      if (!connection.isClosed()) refused.unsubscribe();
      await connection.close();
    },
  };
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * A serving actor's init as this worker runs it: its backend, and where its KV endpoint listens
 * (a decode actor's for handoffs, a prefill actor's for returned and transferred prefixes).
 */
function localInit(init: unknown, backend: BackendName, kvListen: KvListen): unknown {
  if (!isRecord(init) || !isRecord(init.setup)) return init;
  return { ...init, setup: { ...init.setup, backend }, kvListen };
}
