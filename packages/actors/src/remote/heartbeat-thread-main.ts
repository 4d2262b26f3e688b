/**
 * Body of the heartbeat thread (see `heartbeat-thread.ts`): its own NATS connection, one
 * heartbeat every `intervalMs` with the newest meta the node's main thread posted.
 */
import { connect } from '@nats-io/transport-node';
import { parentPort, workerData } from 'node:worker_threads';
import type { HeartbeatThreadData } from './heartbeat-thread.js';
import { encodeHeartbeat } from './remote-subjects.js';

const port = parentPort;
if (port === null) throw new Error('heartbeat-thread-main runs as a worker thread');
const d = workerData as HeartbeatThreadData;
let meta = d.meta;
let seq = 0;
port.on('message', (m: unknown) => (meta = m));
// NOTE: reconnects forever; receivers give every node a fresh window when they reconnect themselves.
const nc = await connect({ servers: d.servers, name: `${d.base.node}-heartbeat`, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
const beat = (): void => {
  if (!nc.isClosed()) nc.publish(d.subject, encodeHeartbeat({ ...d.base, seq: seq++, meta }));
};
beat();
await nc.flush();
port.postMessage('started');
setInterval(beat, d.base.intervalMs);
