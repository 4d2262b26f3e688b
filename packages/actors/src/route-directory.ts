/**
 * `RouteDirectory`: the system's answers to links that need a route — a ref whose connection
 * closed (`reconnect`) or one that arrived without an address (`locate`). It reads the system's
 * records and inboxes; it never changes them.
 * Invariants: an answer is 'connected' only with a live route of the kind the link can use (a port
 * for a port link to an actor on a worker thread, a socket address for a socket link); a link that
 * lost its connection waits (bounded) until the record shows why, so in-flight asks fail with the
 * real cause (the crash) rather than a guess.
 */
import * as Comlink from 'comlink/dist/esm/comlink.mjs';
import { MessageChannel } from 'node:worker_threads';
import { asError, waitAtMost, type ActorRecord } from './actor-record.js';
import type { Endpoint } from './endpoint.js';
import { serializeError } from './error-codec.js';
import type { Reconnect, Route } from './protocol.js';
import { wireNode } from './wire-node.js';

/** How long a ref's reconnect waits for the system to learn why its connection closed. */
const RECONNECT_WAIT_MS = 5_000;

/** The system state the directory reads. */
export interface DirectorySource {
  readonly records: ReadonlyMap<string, ActorRecord>;
  readonly inboxes: ReadonlyMap<string, Endpoint>;
}

/** Routes to the system's actors and inboxes. */
export class RouteDirectory {
  readonly #source: DirectorySource;

  constructor(source: DirectorySource) {
    this.#source = source;
  }

  /** The socket address of a running actor or inbox. */
  async locate(actorId: string): Promise<Reconnect> {
    if (this.#source.inboxes.has(actorId)) return this.#inboxRoute();
    const record = this.#source.records.get(actorId);
    if (record === undefined) return { kind: 'stopped' };
    const host = record.host;
    if ((record.state === 'running' || record.state === 'stopping') && host !== null && host.alive) {
      const incarnation = record.incarnation;
      try {
        return { kind: 'connected', route: { via: 'socket', address: await host.address() }, incarnation, cause: null };
      } catch (error) {
        return { kind: 'down', cause: serializeError(asError(error)) };
      }
    }
    return this.#notRunning(record);
  }

  /** A new route for a link of kind `via` whose connection to `incarnation` closed. */
  async reconnect(actorId: string, incarnation: number, via: Route['via']): Promise<Reconnect> {
    if (this.#source.inboxes.has(actorId)) return via === 'socket' ? this.#inboxRoute() : { kind: 'stopped' };
    const record = this.#source.records.get(actorId);
    if (record === undefined) return { kind: 'stopped' };
    if (via === 'socket') {
      const alive = await this.#probe(record, incarnation);
      if (alive !== null) return alive;
    }
    const deadline = Date.now() + RECONNECT_WAIT_MS;
    // NOTE: a port or socket closes a moment before the host's exit event arrives here, so wait
    // for the record to reflect the death (or a stop) before answering.
    while (record.incarnation === incarnation && (record.state === 'running' || record.state === 'stopping')) {
      const remaining = deadline - Date.now();
      if (remaining <= 0 || !(await waitAtMost(record.changed, remaining))) break;
    }
    const lost = record.lastCause === null ? null : serializeError(record.lastCause);
    if (record.state !== 'running') return this.#notRunning(record);
    const host = record.host;
    if (record.incarnation === incarnation || host === null) {
      return { kind: 'down', cause: serializeError(new Error(`lost the connection to actor '${record.name}'`)) };
    }
    if (via === 'socket') {
      try {
        return { kind: 'connected', route: { via: 'socket', address: await host.address() }, incarnation: record.incarnation, cause: lost };
      } catch (error) {
        return { kind: 'down', cause: serializeError(asError(error)) };
      }
    }
    if (host.placement !== 'thread') return { kind: 'down', cause: lost ?? serializeError(new Error(`actor '${record.name}' moved`)) };
    const { port1, port2 } = new MessageChannel();
    const attached = await host.call((control) => control.attach(actorId, Comlink.transfer(port2, [port2]))).catch(() => false);
    if (!attached) {
      port1.close();
      return { kind: 'stopped' };
    }
    return { kind: 'connected', route: { via: 'port', port: port1, address: null }, incarnation: record.incarnation, cause: lost };
  }

  /**
   * A socket closed while the record still shows the same incarnation running: if its host
   * answers a control call, the actor is fine (the connection alone was lost), so reconnect at
   * once; if the host is dying the call fails and the caller waits for the record to change.
   */
  async #probe(record: ActorRecord, incarnation: number): Promise<Reconnect | null> {
    const host = record.host;
    if (record.incarnation !== incarnation || record.state !== 'running' || host === null || !host.alive) return null;
    try {
      const address = await host.call((control) => control.listen());
      if (record.incarnation !== incarnation || record.state !== 'running') return null;
      const cause = serializeError(new Error(`lost the connection to actor '${record.name}'`));
      return { kind: 'connected', route: { via: 'socket', address }, incarnation, cause };
    } catch {
      return null;
    }
  }

  async #inboxRoute(): Promise<Reconnect> {
    return { kind: 'connected', route: { via: 'socket', address: await wireNode().listen() }, incarnation: 1, cause: null };
  }

  #notRunning(record: ActorRecord): Reconnect {
    const lost = record.lastCause === null ? null : serializeError(record.lastCause);
    if (record.state === 'starting' || record.state === 'restarting') {
      return { kind: 'down', cause: lost ?? serializeError(new Error(`actor '${record.name}' is restarting`)) };
    }
    return { kind: 'stopped' };
  }
}
