/**
 * Errors of the remote placement. Each extends `ActorError` with a stable `code`.
 */
import { ActorError } from '../errors.js';

/** A remote node stopped sending heartbeats (or was fenced); the `cause` of its actors' crashes. */
export class RemoteNodeLostError extends ActorError {
  readonly nodeId: string;
  readonly silentMs: number;
  constructor(nodeId: string, silentMs: number) {
    super('REMOTE_NODE_LOST', `remote node '${nodeId}' was declared dead after ${silentMs} ms without a heartbeat`);
    this.nodeId = nodeId;
    this.silentMs = silentMs;
  }
}

/** No live remote node can take an actor of this group right now (retryable: nodes may join). */
export class NoRemoteNodeError extends ActorError {
  readonly group: string | null;
  constructor(name: string, group: string | null) {
    super('NO_REMOTE_NODE', `no live remote node can host actor '${name}'${group === null ? '' : ` (group '${group}')`}`);
    this.group = group;
  }
}

/**
 * A control call to a remote node (spawn, restart, stop, kill, stats) could not be made or did not
 * complete in time because the NATS broker is unreachable. Retryable: once the broker is back,
 * control works again (actors kept serving meanwhile: their messages do not go through it).
 */
export class RemoteControlUnavailableError extends ActorError {
  readonly retryable = true;
  readonly nodeId: string;
  constructor(nodeId: string, why: string) {
    super('REMOTE_CONTROL_UNAVAILABLE', `control call to remote node '${nodeId}' failed: ${why} (retry once the NATS broker is reachable)`);
    this.nodeId = nodeId;
  }
}

/** A message on a remote node's subjects that does not follow the protocol (logged and ignored). */
export class RemoteProtocolError extends ActorError {
  constructor(message: string) {
    super('REMOTE_PROTOCOL', message);
  }
}
