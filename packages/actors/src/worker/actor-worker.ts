/**
 * Entry point of an actor worker thread: the actor runtime, with its control plane exposed to the
 * system over comlink on the ports in `workerData`. Init values arrive structured-cloned.
 */
import * as Comlink from 'comlink/dist/esm/comlink.mjs';
import { workerData } from 'node:worker_threads';
import { createActorRuntime } from '../actor-runtime.js';
import type { ActorWorkerData, HostApi } from '../protocol.js';

const data = workerData as ActorWorkerData;
const control = createActorRuntime({ host: Comlink.wrap<HostApi>(data.host), placement: 'thread', readInit: (init) => init });
Comlink.expose(control, data.control);
