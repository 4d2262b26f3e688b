/**
 * `startRemoteNode`: makes this process a remote node (placement 'remote') — the counterpart of
 * an actor process, started on its own on any host. Its actors run on this thread: one
 * `WireNode` serves them on a socket (the data plane), the actor runtime's control plane is
 * exposed as comlink over the node's NATS subjects, and a heartbeat carrying the application's
 * `meta` (e.g. a worker registration) is published every `heartbeatMs`; `localInit` lets the node
 * apply what only it knows to each actor's init.
 * Invariants: one node per thread (the wire node and actor runtime are per thread); a `fence`
 * (the system declared this node dead) ends every hosted actor and then calls `onFenced`;
 * `close()` ends the actors, the heartbeat and the subscriptions, not the NATS connection.
 */
import * as Comlink from 'comlink/dist/esm/comlink.mjs';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { ActorRef } from '../actor-ref.js';
import { createActorRuntime } from '../actor-runtime.js';
import type { HostApi, WireInit, WorkerControl } from '../protocol.js';
import { fromWire } from '../wire-codec.js';
import { wireNode } from '../wire-node.js';
import { natsComlinkEndpoint } from './nats-comlink-endpoint.js';
import { startHeartbeatThread } from './heartbeat-thread.js';
import { checkNodeId, DEFAULT_SUBJECT_PREFIX, nodeSubjects } from './remote-subjects.js';

/** Options of `startRemoteNode`. */
export interface RemoteNodeOptions {
  readonly connection: NatsConnection;
  /** One NATS subject token, unique in the cluster. */
  readonly nodeId: string;
  readonly prefix?: string;
  /** Broker URLs for the heartbeat thread's own connection (default: the server `connection` is on). */
  readonly servers?: string[];
  /** Heartbeat period (default 500 ms); heartbeats come from a thread of their own. */
  readonly heartbeatMs?: number;
  /** Application data carried by every heartbeat (read each time, so it may change). */
  readonly meta?: () => unknown | Promise<unknown>;
  /** Called after a fence ended the actors (default: nothing more). */
  readonly onFenced?: () => void;
  /** Where undecodable traffic is reported (default console.warn). */
  readonly log?: (message: string) => void;
  /**
   * Applied to every actor's decoded `init` before the actor starts here: what only this node
   * knows (e.g. its own backend, the interface its sockets listen on). Refs in the init are still
   * encoded at this point; return the init to use. Default: unchanged.
   */
  readonly localInit?: (init: unknown) => unknown;
}

/** A running remote node. */
export interface RemoteNode {
  readonly nodeId: string;
  /** Its data-plane socket address. */
  readonly address: string;
  /** Ids of the actors it hosts now. */
  readonly actorIds: ReadonlySet<string>;
  /** A ref to hosted actor `actorId` (for the node's own queries, e.g. capacity), or null. */
  refOf(actorId: string): ActorRef | null;
  /** Ends every actor, the heartbeat and the subscriptions. */
  close(): Promise<void>;
}

/** Starts the node and its first heartbeat. */
export async function startRemoteNode(options: RemoteNodeOptions): Promise<RemoteNode> {
  const nc = options.connection;
  const nodeId = checkNodeId(options.nodeId);
  const prefix = options.prefix ?? DEFAULT_SUBJECT_PREFIX;
  const heartbeatMs = options.heartbeatMs ?? 500;
  const log = options.log ?? ((message: string) => console.warn(message));
  const s = nodeSubjects(prefix, nodeId);
  const address = await wireNode().listen();
  const hostEndpoint = natsComlinkEndpoint(nc, s.hostIn, s.hostOut, 'replies', (e) => log(`ignored: ${e.message}`));
  const controlEndpoint = natsComlinkEndpoint(nc, s.controlOut, s.controlIn, 'requests', (e) => log(`ignored: ${e.message}`));
  const runtime = createActorRuntime({
    host: Comlink.wrap<HostApi>(hostEndpoint),
    placement: 'remote',
    readInit: (init) => (options.localInit ?? ((value: unknown) => value))(fromWire((init as WireInit).wire)),
  });
  const actorIds = new Set<string>();
  const control: WorkerControl = {
    ...runtime,
    spawn: async (spec, port) => {
      const result = await runtime.spawn(spec, port);
      if (result.ok) actorIds.add(spec.id);
      return result;
    },
    stop: async (id) => {
      await runtime.stop(id);
      actorIds.delete(id);
    },
    kill: async (id) => {
      await runtime.kill(id);
      actorIds.delete(id);
    },
  };
  Comlink.expose(control, controlEndpoint);
  const killAll = async (): Promise<void> => {
    await Promise.all([...actorIds].map((id) => control.kill(id).catch(() => {})));
  };
  const fence: Subscription = nc.subscribe(s.fence, {
    callback: () => {
      log(`remote node '${nodeId}' was declared dead by its system; ending its actors`);
      void killAll().then(() => options.onFenced?.());
    },
  });
  await Promise.all([hostEndpoint.ready, controlEndpoint.ready, nc.flush()]);
  const readMeta = async (): Promise<unknown> => (options.meta === undefined ? null : await options.meta());
  const heartbeat = startHeartbeatThread({
    servers: options.servers ?? [nc.getServer()],
    subject: s.heartbeat,
    base: { v: 1, node: nodeId, address, pid: process.pid, intervalMs: heartbeatMs },
    meta: await readMeta(),
  });
  await heartbeat.started;
  // NOTE: the meta is refreshed from this thread when it is free; liveness does not depend on it.
  const timer = setInterval(() => void readMeta().then((m) => heartbeat.setMeta(m), (e: unknown) => log(`heartbeat meta failed: ${String(e)}`)), heartbeatMs);
  return {
    nodeId,
    address,
    actorIds,
    refOf: (actorId) => (actorIds.has(actorId) ? (wireNode().endpoint(actorId)?.selfRef() ?? null) : null),
    async close() {
      clearInterval(timer);
      await heartbeat.stop();
      await killAll();
      hostEndpoint.close();
      controlEndpoint.close();
      if (!nc.isClosed()) fence.unsubscribe();
    },
  };
}
