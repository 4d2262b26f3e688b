/**
 * Entry point of an actor worker thread. Hosts one or more actors (a `group`), each an `Endpoint`
 * plus an `ActorCell`, and exposes `WorkerControl` to the main thread over comlink. Handler,
 * constructor-on-restart and timer failures are reported to the main thread, whose supervisor
 * decides; anything else uncaught ends the thread, which the main thread also supervises.
 */
import * as Comlink from 'comlink/dist/esm/comlink.mjs';
import { workerData, type MessagePort } from 'node:worker_threads';
import { ActorCell } from '../actor-cell.js';
import type { ActorClass } from '../actor.js';
import { systemClock } from '../clock.js';
import { Endpoint } from '../endpoint.js';
import { serializeError } from '../error-codec.js';
import { ActorStartError } from '../errors.js';
import { loadActorClass } from '../module-loader.js';
import { PortLink, type RefResolver } from '../port-link.js';
import { ActorRef } from '../actor-ref.js';
import type { ActorSpec, ActorStats, ActorWorkerData, HostApi, RefDescriptor, StartResult, WorkerControl } from '../protocol.js';
import { decodeRefs } from '../ref-codec.js';

interface Hosted {
  readonly spec: ActorSpec;
  readonly endpoint: Endpoint;
  readonly self: ActorRef;
  readonly actorClass: ActorClass;
  readonly init: unknown;
}

const data = workerData as ActorWorkerData;
const host = Comlink.wrap<HostApi>(data.host);
const resolver: RefResolver = {
  reconnect: (actorId, incarnation) => host.reconnect(actorId, incarnation),
  deadLetter: (letter) => void host.deadLetter(letter),
};
const actors = new Map<string, Hosted>();

async function startCell(hosted: Hosted): Promise<StartResult> {
  const { endpoint, spec } = hosted;
  const cell = new ActorCell({
    actorClass: hosted.actorClass,
    init: hosted.init,
    endpoint,
    self: hosted.self,
    clock: systemClock,
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
}

async function stopSelf(actorId: string): Promise<void> {
  const hosted = actors.get(actorId);
  if (hosted === undefined) return;
  actors.delete(actorId);
  const error = await hosted.endpoint.stop();
  host.stopped(actorId, error === null ? null : serializeError(error));
}

const control: WorkerControl = {
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
      onCrash: (error) => host.crashed(spec.id, serializeError(error)),
      onStopRequest: () => void stopSelf(spec.id),
    });
    if (port !== null) endpoint.addPort(port);
    const makeRef = (descriptor: RefDescriptor): ActorRef => new ActorRef(new PortLink(descriptor, resolver));
    const init = spec.initRefs ? decodeRefs(spec.init, makeRef) : spec.init;
    const hosted: Hosted = { spec, endpoint, self: endpoint.selfRef(), actorClass, init };
    const result = await startCell(hosted);
    if (result.ok) actors.set(spec.id, hosted);
    else endpoint.kill();
    return result;
  },
  async restart(actorId) {
    const hosted = actors.get(actorId);
    if (hosted === undefined) return { ok: false, error: serializeError(new Error(`no actor '${actorId}' in this worker`)) };
    return startCell(hosted);
  },
  async stop(actorId) {
    await stopSelf(actorId);
  },
  async kill(actorId) {
    actors.get(actorId)?.endpoint.kill();
    actors.delete(actorId);
  },
  async attach(actorId, port: MessagePort) {
    const hosted = actors.get(actorId);
    if (hosted === undefined) {
      port.close();
      return false;
    }
    hosted.endpoint.addPort(port);
    return true;
  },
  async stats() {
    return [...actors.values()].map(
      ({ spec, endpoint }): ActorStats => ({
        id: spec.id,
        name: spec.name,
        queued: endpoint.queued,
        processed: endpoint.processed,
        state: endpoint.state,
      }),
    );
  },
};

Comlink.expose(control, data.control);
