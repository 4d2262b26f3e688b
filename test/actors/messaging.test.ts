// Cross-thread messaging: typed asks, per-sender ordering, direct ports, refs, SAB and transfer.
import { describe, expect, expectTypeOf, it } from 'vitest';
import { threadId } from 'node:worker_threads';
import { ActorStoppedError, type ActorRef } from '@baton/actors';
import type { CounterEvent, CounterProtocol } from '../../packages/actors/dist/testing/counter-actor.js';
import { COUNTER, eventually, newSystem } from './fixtures.js';

describe('messaging between threads', () => {
  it('tells and asks with typed replies', async () => {
    const { system, events } = newSystem();
    const counter = await system.spawn<CounterProtocol>({ module: COUNTER, name: 'counter', init: { start: 5 } });
    counter.tell({ type: 'inc', by: 2 });
    const value = await counter.ask({ type: 'get' });
    expectTypeOf(value).toEqualTypeOf<number>();
    expect(value).toBe(7);
    expect(await counter.ask({ type: 'slowInc', by: 3, ms: 5 })).toBe(10);
    expect(events.started).toEqual([{ name: 'counter', id: expect.any(String) }]);
  });

  it('keeps per-sender order across main and two worker senders', async () => {
    const { system } = newSystem();
    const target = await system.spawn<CounterProtocol>({ module: COUNTER, name: 'target' });
    const a = await system.spawn<CounterProtocol>({ module: COUNTER, name: 'a' });
    const b = await system.spawn<CounterProtocol>({ module: COUNTER, name: 'b', group: 'senders' });
    a.tell({ type: 'sendRecords', to: target, sender: 'a', count: 500 });
    b.tell({ type: 'sendRecords', to: target, sender: 'b', count: 500 });
    for (let seq = 0; seq < 500; seq++) target.tell({ type: 'record', sender: 'main', seq });
    let log: Array<{ sender: string; seq: number }> = [];
    for (let i = 0; i < 250 && log.length < 1500; i++) {
      log = await target.ask({ type: 'log' });
      if (log.length < 1500) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(log).toHaveLength(1500);
    for (const sender of ['main', 'a', 'b']) {
      expect(log.filter((entry) => entry.sender === sender).map((entry) => entry.seq)).toEqual([...Array(500).keys()]);
    }
  });

  it('sends actor-to-actor traffic over direct ports, not through the main thread', async () => {
    const { system } = newSystem();
    const received = new SharedArrayBuffer(4);
    const target = await system.spawn<CounterProtocol>({ module: COUNTER, name: 'target', init: { countInto: received } });
    const sender = await system.spawn<CounterProtocol>({ module: COUNTER, name: 'sender' });
    sender.tell({ type: 'sendRecords', to: target, sender: 'sender', count: 100 });
    // The main thread never yields below, so only a direct worker-to-worker path can deliver.
    const counter = new Int32Array(received);
    const waitOn = new Int32Array(new SharedArrayBuffer(4));
    const deadline = Date.now() + 10_000;
    while (Atomics.load(counter, 0) < 100 && Date.now() < deadline) Atomics.wait(waitOn, 0, 0, 5);
    expect(Atomics.load(counter, 0)).toBe(100);
  });

  it('returns working refs in replies and delivers to main-thread inboxes', async () => {
    const { system } = newSystem();
    const counter = await system.spawn<CounterProtocol>({ module: COUNTER, name: 'counter', init: { start: 3 } });
    const self = await counter.ask({ type: 'self' });
    expectTypeOf(self).toEqualTypeOf<ActorRef<CounterProtocol>>();
    self.tell({ type: 'inc', by: 1 });
    expect(await self.ask({ type: 'get' })).toBe(4);
    const seen: CounterEvent[] = [];
    const inbox = system.inbox<CounterEvent>((msg) => void seen.push(msg));
    counter.tell({ type: 'report', to: inbox });
    await eventually(() => seen.length === 1);
    expect(seen).toEqual([{ type: 'value', count: 4 }]);
  });

  it('shares SharedArrayBuffers and transfers listed ArrayBuffers', async () => {
    const { system } = newSystem();
    const constructions = new SharedArrayBuffer(4);
    const counter = await system.spawn<CounterProtocol>({ module: COUNTER, name: 'counter', init: { constructions } });
    expect(Atomics.load(new Int32Array(constructions), 0)).toBe(1);
    const data = new SharedArrayBuffer(12);
    new Int32Array(data).set([1, 2, 3]);
    expect(await counter.ask({ type: 'sum', data })).toBe(6);
    const bytes = new ArrayBuffer(64);
    expect(await counter.ask({ type: 'byteLength', data: bytes }, { transfer: [bytes] })).toBe(64);
    expect(bytes.byteLength).toBe(0);
  });

  it('runs grouped actors on one worker and others on their own', async () => {
    const { system } = newSystem();
    const spawn = (name: string, group?: string) =>
      system.spawn<CounterProtocol>({ module: COUNTER, name, ...(group === undefined ? {} : { group }) });
    const [g1, g2, solo] = await Promise.all([spawn('g1', 'light'), spawn('g2', 'light'), spawn('solo')]);
    const [t1, t2, t3] = await Promise.all([g1, g2, solo].map((ref) => ref.ask({ type: 'threadId' })));
    expect(t1).toBe(t2);
    expect(t3).not.toBe(t1);
  });

  // NOTE: that stop clears an actor's timers is asserted with the test kit's manual clock
  // (packages/actors/src/testkit/actor-test-kit.test.ts: no timer is pending after stop); across
  // threads, the absence of a later tick cannot be observed without waiting on the wall clock.
  it('runs context timers in the worker thread; a stopped ticker answers no more', async () => {
    const { system } = newSystem();
    const ticks: CounterEvent[] = [];
    const inbox = system.inbox<CounterEvent>((msg) => void ticks.push(msg));
    const counter = await system.spawn<CounterProtocol>({ module: COUNTER, name: 'ticker' });
    expect(await counter.ask({ type: 'threadId' })).not.toBe(threadId);
    counter.tell({ type: 'tickEvery', ms: 5, to: inbox });
    await eventually(() => ticks.length >= 3);
    const at = ticks.slice(0, 3).map((t) => (t.type === 'tick' ? t.at : Number.NaN));
    expect(at[1]).toBeGreaterThan(at[0]);
    expect(at[2]).toBeGreaterThan(at[1]);
    await system.stop(counter);
    await expect(counter.ask({ type: 'get' })).rejects.toBeInstanceOf(ActorStoppedError);
  });
});
