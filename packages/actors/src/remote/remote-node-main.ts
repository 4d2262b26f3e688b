/**
 * Entry point of a bare remote node: `node dist/remote/remote-node-main.js --nats URL --node ID
 * [--prefix P] [--heartbeat-ms N]`. It connects to NATS, starts the node and serves whatever
 * actors a system spawns there with `placement: 'remote'`, until SIGTERM/SIGINT or a fence.
 * Applications with their own registration (the engine's workers) call `startRemoteNode` instead.
 */
import { connect } from '@nats-io/transport-node';
import { parseArgs } from 'node:util';
import { startRemoteNode } from './remote-node.js';

const { values } = parseArgs({
  options: { nats: { type: 'string' }, node: { type: 'string' }, prefix: { type: 'string' }, 'heartbeat-ms': { type: 'string' } },
});
if (values.nats === undefined || values.node === undefined) {
  console.error('usage: remote-node-main --nats URL --node ID [--prefix P] [--heartbeat-ms N]');
  process.exit(2);
}
const heartbeatMs = values['heartbeat-ms'] === undefined ? undefined : Number(values['heartbeat-ms']);
const connection = await connect({ servers: values.nats, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
const node = await startRemoteNode({
  connection, servers: [values.nats], nodeId: values.node, prefix: values.prefix, heartbeatMs,
  onFenced: () => process.exit(1),
});
const stop = async (): Promise<void> => {
  await node.close();
  await connection.drain();
  process.exit(0);
};
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());
// NOTE: the line tells a parent (tests, demo scripts) that the node is registered and beating.
console.log(`remote node ${node.nodeId} ready pid=${process.pid}`);
