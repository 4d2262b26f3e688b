// Messaging in both placements: typed asks, per-sender ordering, direct paths, refs, timers, and
// what may cross a thread (shared memory, transfers) or a process (copies only, typed errors).
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { MessageNotCloneableError, type ActorRef, type Placement } from '@baton/actors';
import type { CounterEvent, CounterProtocol } from '../../packages/actors/dist/testing/counter-actor.js';
import { COUNTER, PLACEMENTS, eventually, newSystem } from './fixtures.js';

describe.each(PLACEMENTS)('messaging (placement %s)', (placement: Placement) => {
  const spawn = (system: ReturnType<typeof newSystem>['system'], name: string, extra: Record<string, unknown> = {}) =>
    system.spawn<CounterProtocol>({ module: COUNTER, name, placement, ...extra });

  it('tells and asks with typed replies', async () => {
    const { system, events } = newSystem();
    const counter = await spawn(system, 'counter', { init: { start: 5 } });
    counter.tell({ type: 'inc', by: 2 });
    const value = await counter.ask({ type: 'get' });
    expectTypeOf(value).toEqualTypeOf<number>();
    expect(value).toBe(7);
    expect(await counter.ask({ type: 'slowInc', by: 3, ms: 5 })).toBe(10);
    expect(events.started).toEqual([{ name: 'counter', id: expect.any(String) }]);
    const where = await counter.ask({ type: 'where' });
    expect(where.placement).toBe(placement);
    expect(where.pid === process.pid).toBe(placement === 'thread');
  });

  it('keeps per-sender order across main and two actor senders', async () => {
    const { system } = newSystem();
    const target = await spawn(system, 'target');
    const a = await spawn(system, 'a');
    const b = await spawn(system, 'b', { group: 'senders' });
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

  it('sends actor-to-actor traffic straight to the target, not through the main thread', async () => {
    const { system } = newSystem();
    const dir = mkdtempSync(join(tmpdir(), 'baton-direct-'));
    try {
      const file = join(dir, 'records');
      const target = await spawn(system, 'target', { init: { countIntoFile: file } });
      const sender = await spawn(system, 'sender');
      expect(await sender.ask({ type: 'get' })).toBe(0);
      sender.tell({ type: 'sendRecords', to: target, sender: 'sender', count: 100 });
      // The main thread never yields below, so only a direct sender-to-target path can deliver.
      const lines = (): number => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').length - 1 : 0);
      const nap = new Int32Array(new SharedArrayBuffer(4));
      const deadline = Date.now() + 20_000;
      while (lines() < 100 && Date.now() < deadline) Atomics.wait(nap, 0, 0, 5);
      expect(lines()).toBe(100);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('returns working refs in replies and delivers to main-thread inboxes', async () => {
    const { system } = newSystem();
    const counter = await spawn(system, 'counter', { init: { start: 3 } });
    const self = await counter.ask({ type: 'self' });
    expectTypeOf(self).toEqualTypeOf<ActorRef<CounterProtocol>>();
    self.tell({ type: 'inc', by: 1 });
    expect(await self.ask({ type: 'get' })).toBe(4);
    const seen: CounterEvent[] = [];
    const inbox = system.inbox<CounterEvent>((msg) => void seen.push(msg));
    counter.tell({ type: 'report', to: inbox });
    await eventually(() => seen.length === 1);
    expect(seen).toEqual([{ type: 'value', count: 4 }]);
    const answering = system.inbox<CounterProtocol>((msg) => (msg.type === 'echo' ? { echoed: msg.value } : null));
    const asked = await counter.ask({ type: 'askOther', to: answering, msg: { type: 'echo', value: [1, 'two'] }, timeoutMs: 10_000 });
    expect(asked).toBe('resolved {"echoed":[1,"two"]}');
  });

  it('passes refs in init and between actors of both placements', async () => {
    const { system } = newSystem();
    const seen: CounterEvent[] = [];
    const watcher = system.inbox<CounterEvent>((msg) => void seen.push(msg));
    const other: Placement = placement === 'thread' ? 'process' : 'thread';
    const target = await system.spawn<CounterProtocol>({ module: COUNTER, name: 'target', placement: other });
    const holder = await spawn(system, 'holder', { init: { watcher } });
    holder.tell({ type: 'sendRecords', to: target, sender: 'holder', count: 10 });
    expect(await holder.ask({ type: 'askOther', to: target, msg: { type: 'echo', value: 'hi' }, timeoutMs: 10_000 })).toBe('resolved "hi"');
    target.tell({ type: 'sendRecords', to: holder, sender: 'target', count: 10 });
    let back: unknown[] = [];
    await eventually(() => {
      void holder.ask({ type: 'log' }).then((log) => (back = log));
      return back.length === 10;
    });
    expect((await target.ask({ type: 'log' })).map((entry) => entry.seq)).toEqual([...Array(10).keys()]);
    await system.stop(holder);
    await eventually(() => seen.length === 1);
    expect(seen).toEqual([{ type: 'stopping', count: 0 }]);
  });

  it('runs grouped actors in one host and others in their own', async () => {
    const { system } = newSystem();
    const [g1, g2, solo] = await Promise.all([spawn(system, 'g1', { group: 'light' }), spawn(system, 'g2', { group: 'light' }), spawn(system, 'solo')]);
    const [w1, w2, w3] = await Promise.all([g1, g2, solo].map((ref) => ref.ask({ type: 'where' })));
    expect(w1).toEqual(w2);
    expect(w3).not.toEqual(w1);
  });

  it('runs context timers in the host and clears them on stop', async () => {
    const { system } = newSystem();
    const ticks: CounterEvent[] = [];
    const inbox = system.inbox<CounterEvent>((msg) => void ticks.push(msg));
    const counter = await spawn(system, 'ticker');
    counter.tell({ type: 'tickEvery', ms: 5, to: inbox });
    await eventually(() => ticks.length >= 3);
    await system.stop(counter);
    const after = ticks.length;
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(ticks.length).toBe(after);
  });

  it('clones typed arrays into init and messages, and detaches transferred ArrayBuffers', async () => {
    const { system } = newSystem();
    const floats = new Float32Array([1.5, -2, 3]);
    const ids = new Int32Array([7, 8, 9]).subarray(1);
    const counter = await spawn(system, 'counter', { init: { start: 1, floats, ids } });
    const echoed = (await counter.ask({ type: 'echo', value: { floats, ids, big: new BigInt64Array([5n]) } })) as Record<string, unknown>;
    expect(echoed).toEqual({ floats, ids: new Int32Array([8, 9]), big: new BigInt64Array([5n]) });
    expect((echoed.floats as Float32Array).buffer).not.toBe(floats.buffer);
    const bytes = new ArrayBuffer(64);
    expect(await counter.ask({ type: 'byteLength', data: bytes }, { transfer: [bytes] })).toBe(64);
    expect(bytes.byteLength).toBe(0);
  });
});

describe('what may cross a thread', () => {
  it('shares SharedArrayBuffers with actors in worker threads', async () => {
    const { system } = newSystem();
    const constructions = new SharedArrayBuffer(4);
    const counter = await system.spawn<CounterProtocol>({ module: COUNTER, name: 'counter', init: { constructions } });
    expect(Atomics.load(new Int32Array(constructions), 0)).toBe(1);
    const data = new SharedArrayBuffer(12);
    new Int32Array(data).set([1, 2, 3]);
    expect(await counter.ask({ type: 'sum', data })).toBe(6);
  });
});

describe('what may not cross a process', () => {
  it('names the SharedArrayBuffer, shared view or MessagePort field in a typed error, and keeps running', async () => {
    const { system, events } = newSystem();
    const shared = new SharedArrayBuffer(8);
    const failure = await system
      .spawn({ module: COUNTER, name: 'x', placement: 'process', init: { start: 1, pool: { buffer: shared } } })
      .catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(MessageNotCloneableError);
    expect((failure as Error).message).toMatch(/^init\.pool\.buffer is a SharedArrayBuffer, which cannot cross a process/);
    expect((failure as MessageNotCloneableError).path).toBe('init.pool.buffer');
    expect(events.processStarted).toEqual([]);
    const counter = await system.spawn<CounterProtocol>({ module: COUNTER, name: 'c', placement: 'process' });
    await expect(counter.ask({ type: 'sum', data: shared })).rejects.toThrow(/^message\.data is a SharedArrayBuffer/);
    const view = { type: 'echo', value: [1, { deep: new Int32Array(shared) }] } as const;
    expect(() => counter.tell(view)).toThrow(/^message\.value\[1\]\.deep is a Int32Array over a SharedArrayBuffer/);
    const { port1, port2 } = new MessageChannel();
    await expect(counter.ask({ type: 'echo', value: { port: port1 } })).rejects.toThrow(/^message\.value\.port is a MessagePort/);
    port1.close();
    port2.close();
    await expect(counter.ask({ type: 'badReply' })).rejects.toThrow(/^reply is a function, which cannot cross a process/);
    expect(await counter.ask({ type: 'get' })).toBe(0);
    expect(events.crashed).toEqual([]);
  });
});
