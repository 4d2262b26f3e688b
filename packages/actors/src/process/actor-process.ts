/**
 * Entry point of an actor process (forked by the system for placement 'process'). The process's
 * actors run on its main thread, like the actors of a group on one worker thread: one
 * `WireNode` serves them on a unix-domain socket, whose address the parent learns from the
 * `ready` message. The control plane is comlink over the fork IPC channel
 * (`serialization: 'advanced'`). An uncaught error is reported to the parent (`fatal`), then ends
 * the process; a lost parent (IPC disconnect) ends it too, so no actor process outlives its system.
 * Extra arguments after the entry path (`processArgs`) are ignored here; they label the process
 * for `ps`.
 */
import * as Comlink from 'comlink/dist/esm/comlink.mjs';
import { createActorRuntime } from '../actor-runtime.js';
import { serializeError } from '../error-codec.js';
import { ipcEndpoint } from '../ipc-endpoint.js';
import type { HostApi, ProcessIpcMessage, WireInit } from '../protocol.js';
import { fromWire } from '../wire-codec.js';
import { wireNode } from '../wire-node.js';

/** How long a fatal report may take before the process exits anyway. */
const FATAL_REPORT_MS = 1_000;

function send(message: ProcessIpcMessage, done?: () => void): void {
  if (process.send === undefined || !process.connected) {
    done?.();
    return;
  }
  process.send(message, undefined, {}, () => done?.());
}

let dying = false;
process.on('uncaughtException', (error) => {
  if (dying) return;
  dying = true;
  const exit = (): never => process.exit(1);
  setTimeout(exit, FATAL_REPORT_MS).unref();
  send({ ch: 'fatal', error: serializeError(error) }, exit);
});
process.on('disconnect', () => process.exit(0));

const address = await wireNode().listen();
const control = createActorRuntime({
  host: Comlink.wrap<HostApi>(ipcEndpoint(process, 'host')),
  placement: 'process',
  readInit: (init) => fromWire((init as WireInit).wire),
});
Comlink.expose(control, ipcEndpoint(process, 'control'));
send({ ch: 'ready', address });
