/**
 * `ActorHost`: the system's handle on one place where actors run — a worker thread
 * (`WorkerHost`) or a child process (`ProcessHost`). The system talks to every host the same
 * way: control calls that race the host's death, the socket address its actors are reached at
 * from other processes, and termination. A further placement is one more implementation.
 */
import type * as Comlink from 'comlink/dist/esm/comlink.mjs';
import type { Placement, WorkerControl } from './protocol.js';

/** One host of actors. */
export interface ActorHost {
  readonly placement: Placement;
  /** Ids of the actors this host runs. */
  readonly actorIds: Set<string>;
  readonly alive: boolean;
  /** Runs a control-plane call; rejects with the death cause if the host ends first. */
  call<T>(fn: (control: Comlink.Remote<WorkerControl>) => Promise<T>): Promise<T>;
  /** The socket address at which other processes reach this host's actors (starts its server if needed). */
  address(): Promise<string>;
  /** That address once known, else null. */
  readonly knownAddress: string | null;
  /** Ends the host (no death report); resolves after its exit hooks ran. */
  terminate(): Promise<void>;
  /**
   * Ends a host whose actors stopped answering, as a death: `onDeath` runs with `cause`, so the
   * system restarts its actors. Works on a host stuck in synchronous code. No-op once it ended.
   */
  abandon(cause: Error): void;
}

/** Callbacks of a host. */
export interface HostHooks<H extends ActorHost> {
  /** The host ended without `terminate()`. */
  readonly onDeath: (host: H, cause: Error) => void;
  /** The host ended, however it ended (after `onDeath`). */
  readonly onExit: (host: H) => void;
}
