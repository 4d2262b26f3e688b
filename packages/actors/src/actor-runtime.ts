/**
 * `createActorRuntime`: the control plane of one actor host — a worker thread or an actor process.
 * It constructs actors (an `Endpoint` plus an `ActorCell` each), restarts, stops and kills them,
 * and registers every endpoint with this thread's `WireNode` so refs from other processes reach
 * it. Handler, constructor-on-restart and timer failures are reported to the system, whose
 * supervisor decides; anything else uncaught ends the host, which the system also supervises.
 */
import { ActorCell } from './actor-cell.js';
import type { ActorClass } from './actor.js';
import { ActorRef } from './actor-ref.js';
import { systemClock } from './clock.js';
import { Endpoint } from './endpoint.js';
import { serializeError } from './error-codec.js';
import { ActorStartError } from './errors.js';
import { linkFor } from './link-factory.js';
import { loadActorClass } from './module-loader.js';
import type { ActorSpec, ActorStats, HostApi, Placement, Reconnect, RefDescriptor, StartResult, WorkerControl } from './protocol.js';
import type { RefResolver } from './reconnecting-link.js';
import { decodeRefs } from './ref-codec.js';
import { wireNode } from './wire-node.js';

interface Hosted {
  readonly spec: ActorSpec;
  readonly endpoint: Endpoint;
  readonly self: ActorRef;
  readonly actorClass: ActorClass;
  readonly init: unknown;
}

/** The system's side as a host sees it (comlink proxy methods return promises). */
export type RemoteHostApi = { [K in keyof HostApi]: (...args: Parameters<HostApi[K]>) => Promise<Awaited<ReturnType<HostApi[K]>>> };

/** What differs between hosts. */
export interface RuntimeOptions {
  readonly host: RemoteHostApi;
  readonly placement: Placement;
  /** Turns the spec's `init` into the value (after transport decoding, before ref decoding). */
  readonly readInit: (init: unknown) => unknown;
}

/** The `WorkerControl` of this host. */
export function createActorRuntime(options: RuntimeOptions): WorkerControl {
  const { host, placement } = options;
  const node = wireNode();
  // NOTE: refs to one actor decoded in a burst share one lookup (later ones find the address cached).
  const locating = new Map<string, Promise<Reconnect>>();
  const locate = (actorId: string): Promise<Reconnect> => {
    let answer = locating.get(actorId);
    if (answer === undefined) {
      answer = host.locate(actorId).finally(() => locating.delete(actorId));
      locating.set(actorId, answer);
    }
    return answer;
  };
  const resolver: RefResolver = {
    reconnect: (actorId, incarnation, via) => host.reconnect(actorId, incarnation, via),
    locate,
    deadLetter: (letter) => void host.deadLetter(letter),
  };
  node.deadLetters = resolver.deadLetter;
  node.serveWhileIdle = true;
  const actors = new Map<string, Hosted>();
  const makeRef = (descriptor: RefDescriptor): ActorRef => new ActorRef(linkFor(descriptor, resolver));

  const startCell = async (hosted: Hosted): Promise<StartResult> => {
    const { endpoint, spec } = hosted;
    const cell = new ActorCell({
      actorClass: hosted.actorClass,
      init: hosted.init,
      endpoint,
      self: hosted.self,
      clock: systemClock,
      placement,
      requestStop: () => void stopSelf(spec.id),
    });
    try {
      await cell.start();
    } catch (error) {
      cell.dispose();
      return { ok: false, error: serializeError(new ActorStartError(spec.name, error)) };
    }
    endpoint.start(cell);
    return { ok: true };
  };

  const remove = (actorId: string): Hosted | undefined => {
    const hosted = actors.get(actorId);
    actors.delete(actorId);
    node.unregister(actorId);
    return hosted;
  };

  const stopSelf = async (actorId: string): Promise<void> => {
    const hosted = actors.get(actorId);
    if (hosted === undefined) return;
    actors.delete(actorId);
    // NOTE: still registered while it drains, so a message from another process that arrives now
    // is refused by the endpoint itself (ActorStoppedError for that message only), as in a thread.
    const error = await hosted.endpoint.stop();
    node.unregister(actorId);
    void host.stopped(actorId, error === null ? null : serializeError(error));
  };

  return {
    async spawn(spec, port) {
      let actorClass: ActorClass;
      try {
        actorClass = await loadActorClass(spec.module, spec.exportName);
      } catch (error) {
        port?.close();
        return { ok: false, error: serializeError(error) };
      }
      const endpoint = new Endpoint({
        id: spec.id,
        name: spec.name,
        incarnation: spec.incarnation,
        mailbox: spec.mailbox,
        resolver,
        address: node.address,
        onCrash: (error) => void host.crashed(spec.id, serializeError(error)),
        onStopRequest: () => void stopSelf(spec.id),
      });
      if (port !== null) endpoint.addPort(port);
      let init: unknown;
      try {
        const value = options.readInit(spec.init);
        init = spec.initRefs ? decodeRefs(value, makeRef) : value;
      } catch (error) {
        endpoint.kill();
        return { ok: false, error: serializeError(new ActorStartError(spec.name, error)) };
      }
      const hosted: Hosted = { spec, endpoint, self: endpoint.selfRef(), actorClass, init };
      node.register(endpoint);
      actors.set(spec.id, hosted);
      const result = await startCell(hosted);
      if (!result.ok) {
        remove(spec.id);
        endpoint.kill();
      }
      return result;
    },
    async restart(actorId) {
      const hosted = actors.get(actorId);
      if (hosted === undefined) return { ok: false, error: serializeError(new Error(`no actor '${actorId}' in this host`)) };
      return startCell(hosted);
    },
    async stop(actorId) {
      await stopSelf(actorId);
    },
    async kill(actorId) {
      remove(actorId)?.endpoint.kill();
    },
    async attach(actorId, port) {
      const hosted = actors.get(actorId);
      if (hosted === undefined) {
        port.close();
        return false;
      }
      hosted.endpoint.addPort(port);
      return true;
    },
    listen: () => node.listen(),
    forget: (address) => node.forget(address),
    async stats() {
      return [...actors.values()].map(
        ({ spec, endpoint }): ActorStats => ({
          id: spec.id,
          name: spec.name,
          queued: endpoint.queued,
          processed: endpoint.processed,
          state: endpoint.state,
          placement,
          pid: process.pid,
        }),
      );
    },
  };
}
