/**
 * `RemoteHostProvider`: what an `ActorSystem` needs to place actors with `placement: 'remote'`
 * (given as `new ActorSystem({ remote })`). `NatsRemoteHosts` is the implementation over NATS.
 */
import type { ActorHost, HostHooks } from '../actor-host.js';
import type { HostApi } from '../protocol.js';

/** The actor being placed, as the provider sees it. */
export interface RemotePlacementRequest {
  readonly name: string;
  readonly group: string | null;
}

/** Chooses and tracks remote hosts for one system. */
export interface RemoteHostProvider {
  /**
   * The host `actor` starts in: its group's live host, or one on a newly chosen node. Throws
   * `NoRemoteNodeError` when no live node fits (a restart then retries with backoff).
   */
  hostFor(actor: RemotePlacementRequest, hostApi: HostApi, hooks: HostHooks<ActorHost>): ActorHost;
  /** The live hosts this system placed actors in. */
  readonly hosts: readonly ActorHost[];
  /** Ends every host (the actors this system started on the nodes); the nodes keep running. */
  close(): Promise<void>;
}
