/**
 * The remote placement against a real nats-server: actors on remote nodes (separate processes
 * started on their own) keep the actor contract — typed tell/ask, per-sender order, ask
 * timeouts, refs in messages — and a node that is SIGKILLed or hangs (SIGSTOP) is declared dead:
 * its pending asks reject with ActorCrashedError and its actors restart on another node.
 * A system whose own event loop was blocked past the deadline declares no live node dead.
 * Malformed heartbeats are logged and ignored.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ActorCrashedError, ActorSystem, AskTimeoutError, NatsRemoteHosts, type ActorRef } from '@baton/actors';
import type { CounterEvent, CounterProtocol } from '../../packages/actors/dist/testing/counter-actor.js';
import { eventually } from '../support/eventually.js';
import { exited, startChild, stopAll } from './child-processes.js';
import { NatsServer } from './nats-server.js';

const COUNTER = new URL('../../packages/actors/dist/testing/counter-actor.js', import.meta.url);
const NODE_MAIN = fileURLToPath(new URL('../../packages/actors/dist/remote/remote-node-main.js', import.meta.url));
const DEAD_AFTER_MS = 800;

let nats: NatsServer;
let nc: NatsConnection;
let system: ActorSystem | null = null;
let hosts: NatsRemoteHosts | null = null;
const logs: string[] = [];

beforeAll(async () => {
  nats = await NatsServer.start();
  nc = await connect({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
});
afterAll(async () => {
  await nc?.close();
  await nats?.stop();
});
afterEach(async () => {
  await system?.shutdown({ timeoutMs: 500 });
  system = null;
  hosts = null;
  await stopAll();
  logs.length = 0;
});

async function startNode(id: string): Promise<ChildProcess> {
  return startChild([NODE_MAIN, '--nats', nats.url, '--node', id, '--heartbeat-ms', '100'], /ready/);
}

async function cluster(...ids: string[]): Promise<{ system: ActorSystem; hosts: NatsRemoteHosts; nodes: ChildProcess[] }> {
  hosts = new NatsRemoteHosts({ connection: nc, deadAfterMs: DEAD_AFTER_MS, log: (m) => logs.push(m) });
  await hosts.ready();
  const nodes = await Promise.all(ids.map(startNode));
  const h = hosts;
  await eventually(() => ids.every((id) => h.live.some((n) => n.node === id)), { what: `nodes ${ids.join(', ')} registered` });
  system = new ActorSystem({ remote: hosts });
  return { system, hosts, nodes };
}

describe('placement remote (nats-server)', () => {
  it('keeps the actor contract: tell/ask, order, timeouts, refs both ways', async () => {
    const { system, nodes } = await cluster('n1');
    const counter = await system.spawn<CounterProtocol>({ module: COUNTER, name: 'c', placement: 'remote', group: 'g', init: { start: 5 } });
    counter.tell({ type: 'inc', by: 2 });
    expect(await counter.ask({ type: 'get' })).toBe(7);
    const where = await counter.ask({ type: 'where' });
    expect(where.pid).toBe(nodes[0]?.pid);
    expect(where.placement).toBe('remote');
    for (let seq = 0; seq < 200; seq++) counter.tell({ type: 'record', sender: 'main', seq });
    const log = await counter.ask({ type: 'log' });
    expect(log.map((r) => r.seq)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    const seen: CounterEvent[] = [];
    const inbox = system.inbox<CounterEvent>((m) => void seen.push(m));
    counter.tell({ type: 'report', to: inbox });
    await eventually(() => seen.length > 0);
    expect(seen).toEqual([{ type: 'value', count: 7 }]);
    const self: ActorRef<CounterProtocol> = await counter.ask({ type: 'self' });
    expect(await self.ask({ type: 'get' })).toBe(7);
    // Last: the hanging handler blocks this actor's mailbox for good.
    await expect(counter.ask({ type: 'hang' }, { timeoutMs: 150 })).rejects.toBeInstanceOf(AskTimeoutError);
  });

  it('a SIGKILLed node: pending asks reject with ActorCrashedError, the actor restarts on another node', async () => {
    const { system, nodes } = await cluster('k1', 'k2');
    const counter = await system.spawn<CounterProtocol>({ module: COUNTER, name: 'c', placement: 'remote', group: 'g', init: { start: 1 } });
    const first = await counter.ask({ type: 'where' });
    const victim = nodes.find((n) => n.pid === first.pid) as ChildProcess;
    const survivor = nodes.find((n) => n.pid !== first.pid) as ChildProcess;
    const restarted = new Promise<void>((resolve) => system.events.once('restarted', () => resolve()));
    const pending = counter.ask({ type: 'hang' }, { timeoutMs: 20_000 });
    victim.kill('SIGKILL');
    await expect(pending).rejects.toBeInstanceOf(ActorCrashedError);
    await restarted;
    expect((await counter.ask({ type: 'where' })).pid).toBe(survivor.pid);
    expect(await counter.ask({ type: 'get' })).toBe(1);
  });

  it('a hung (SIGSTOP) node is declared dead: its asks reject with RemoteNodeLostError as cause, then it is fenced', async () => {
    const { system, nodes } = await cluster('s1', 's2');
    const counter = await system.spawn<CounterProtocol>({ module: COUNTER, name: 'c', placement: 'remote', group: 'g', init: { start: 3 } });
    const first = await counter.ask({ type: 'where' });
    const victim = nodes.find((n) => n.pid === first.pid) as ChildProcess;
    const pending = counter.ask({ type: 'hang' }, { timeoutMs: 20_000 });
    victim.kill('SIGSTOP');
    const error = await pending.then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(ActorCrashedError);
    // NOTE: the cause crossed the node's control channel, so it arrives rebuilt by its code.
    expect(((error as ActorCrashedError).cause as { code?: string }).code).toBe('REMOTE_NODE_LOST');
    expect(logs.some((m) => m.includes('declared dead'))).toBe(true);
    await eventually(async () => (await counter.ask({ type: 'where' }).catch(() => first)).pid !== first.pid, { timeoutMs: 15_000 });
    // Resumed, the fenced node ends its actors and exits instead of serving a second copy.
    victim.kill('SIGCONT');
    await exited(victim);
    expect(victim.exitCode).toBe(1);
  });

  it('a system whose event loop was blocked past the deadline declares no live node dead', async () => {
    const { system } = await cluster('b1');
    const counter = await system.spawn<CounterProtocol>({ module: COUNTER, name: 'c', placement: 'remote', group: 'g', init: { start: 2 } });
    // NOTE: a long synchronous step in the system's own process (heartbeats queue unread meanwhile).
    const until = Date.now() + 3 * DEAD_AFTER_MS;
    while (Date.now() < until) { /* busy */ }
    await new Promise((resolve) => setTimeout(resolve, 2 * DEAD_AFTER_MS));
    expect(logs.filter((m) => m.includes('declared dead'))).toEqual([]);
    expect(await counter.ask({ type: 'get' })).toBe(2);
  });

  it('malformed heartbeats are logged and ignored; nothing else is disturbed', async () => {
    const { system, hosts } = await cluster('m1');
    const counter = await system.spawn<CounterProtocol>({ module: COUNTER, name: 'c', placement: 'remote', init: {} });
    nc.publish('baton.node.bogus.hb', new TextEncoder().encode('{not json'));
    nc.publish('baton.node.bogus.hb', new TextEncoder().encode(JSON.stringify({ v: 1, node: 'bad node!', address: 'x', pid: 1, seq: 0, intervalMs: 1 })));
    nc.publish('baton.node.m1.ctl.out', new Uint8Array([1, 2, 3]));
    await eventually(() => logs.filter((m) => m.includes('ignored')).length >= 2);
    expect(logs.filter((m) => m.includes('ignored'))).toHaveLength(2);
    expect(hosts.live.map((n) => n.node)).toEqual(['m1']);
    counter.tell({ type: 'inc', by: 1 });
    expect(await counter.ask({ type: 'get' })).toBe(1);
  });
});
