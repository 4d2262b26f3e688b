/**
 * The remote placement with a TCP data plane (`BATON_ACTORS_TCP_HOST`), as between hosts: refs
 * carry `tcp://host:port` addresses, and tell/ask, refs in messages and replies in both directions
 * work over them. The node and this test process both serve on TCP.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { fileURLToPath } from 'node:url';
import { ActorSystem, NatsRemoteHosts, type ActorRef } from '@baton/actors';
import type { CounterEvent, CounterProtocol } from '../../packages/actors/dist/testing/counter-actor.js';
import { eventually } from '../support/eventually.js';
import { startChild, stopAll } from './child-processes.js';
import { NatsServer } from './nats-server.js';

const COUNTER = new URL('../../packages/actors/dist/testing/counter-actor.js', import.meta.url);
const NODE_MAIN = fileURLToPath(new URL('../../packages/actors/dist/remote/remote-node-main.js', import.meta.url));
const TCP_ENV = { BATON_ACTORS_TCP_HOST: '127.0.0.1' };

let nats: NatsServer;
let nc: NatsConnection;
beforeAll(async () => {
  Object.assign(process.env, TCP_ENV);
  nats = await NatsServer.start();
  nc = await connect({ servers: nats.url });
});
afterAll(async () => {
  await stopAll();
  await nc?.close();
  await nats?.stop();
  delete process.env.BATON_ACTORS_TCP_HOST;
});

it('actors on a node reached over TCP keep the contract (refs both ways)', async () => {
  const hosts = new NatsRemoteHosts({ connection: nc, deadAfterMs: 1_000 });
  await hosts.ready();
  await startChild([NODE_MAIN, '--nats', nats.url, '--node', 't1', '--heartbeat-ms', '100'], /ready/, TCP_ENV);
  await eventually(() => hosts.live.some((n) => n.node === 't1'));
  expect(hosts.live[0]?.address).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
  const system = new ActorSystem({ remote: hosts });
  try {
    const counter = await system.spawn<CounterProtocol>({ module: COUNTER, name: 'c', placement: 'remote', init: { start: 2 } });
    counter.tell({ type: 'inc', by: 3 });
    expect(await counter.ask({ type: 'get' })).toBe(5);
    const seen: CounterEvent[] = [];
    const inbox = system.inbox<CounterEvent>((m) => void seen.push(m));
    counter.tell({ type: 'report', to: inbox });
    await eventually(() => seen.length > 0);
    expect(seen).toEqual([{ type: 'value', count: 5 }]);
    const self: ActorRef<CounterProtocol> = await counter.ask({ type: 'self' });
    expect(await self.ask({ type: 'get' })).toBe(5);
  } finally {
    await system.shutdown({ timeoutMs: 500 });
  }
});
