// Stop, kill, shutdown, timeouts, abort, backpressure, pools and bad input, across threads.
import { describe, expect, it } from 'vitest';
import {
  AbortedError,
  ActorModuleNotFoundError,
  ActorStoppedError,
  AskTimeoutError,
  InvalidActorOptionsError,
  MailboxFullError,
  MessageNotCloneableError,
  SystemShutdownError,
  UnknownMessageError,
} from '@baton/actors';
import type { CounterEvent, CounterProtocol } from '../../packages/actors/dist/testing/counter-actor.js';
import { COUNTER, FAULTY, SQUARE, eventually, newSystem } from './fixtures.js';

describe('stop, kill and shutdown', () => {
  it('stops gracefully: drains the mailbox, then runs onStop', async () => {
    const { system, events } = newSystem();
    const seen: CounterEvent[] = [];
    const watcher = system.inbox<CounterEvent>((msg) => void seen.push(msg));
    const counter = await system.spawn<CounterProtocol>({ module: COUNTER, name: 'c', init: { watcher } });
    for (let i = 0; i < 100; i++) counter.tell({ type: 'inc', by: 1 });
    await system.stop(counter);
    await eventually(() => seen.length === 1);
    expect(seen).toEqual([{ type: 'stopping', count: 100 }]);
    expect(events.stopped).toEqual([{ name: 'c', reason: 'stopped', error: null }]);
    await expect(counter.ask({ type: 'get' })).rejects.toBeInstanceOf(ActorStoppedError);
  });

  it('kills at once: a hanging ask rejects with ActorStoppedError and the thread ends', async () => {
    const { system, events } = newSystem();
    const counter = await system.spawn<CounterProtocol>({ module: COUNTER, name: 'c' });
    const hanging = counter.ask({ type: 'hang' });
    await system.kill(counter);
    await expect(hanging).rejects.toBeInstanceOf(ActorStoppedError);
    await eventually(() => events.workerExited.length === 1);
    expect(events.stopped).toMatchObject([{ name: 'c', reason: 'killed' }]);
  });

  it('stops itself through context.stop()', async () => {
    const { system, events } = newSystem();
    const counter = await system.spawn<CounterProtocol>({ module: COUNTER, name: 'c' });
    counter.tell({ type: 'stopSelf' });
    await eventually(() => events.stopped.length === 1 && events.workerExited.length === 1);
    await expect(counter.ask({ type: 'get' })).rejects.toBeInstanceOf(ActorStoppedError);
  });

  it('leaves no threads, ports or timers after shutdown', async () => {
    const before = process.getActiveResourcesInfo().filter((r) => r !== 'Timeout').sort();
    const { system, events } = newSystem();
    const inbox = system.inbox(() => {});
    const refs = await Promise.all(
      ['a', 'b', 'c'].map((name, i) => system.spawn<CounterProtocol>({ module: COUNTER, name, ...(i > 0 ? { group: 'g' } : {}) })),
    );
    refs[0]?.tell({ type: 'tickEvery', ms: 1, to: inbox as never });
    await refs[1]?.ask({ type: 'throw', message: 'crash into a long backoff' }).catch(() => {});
    const pool = system.pool<{ value: number }, number>({ module: SQUARE, size: 2 });
    expect(await pool.run({ value: 4 })).toBe(16);
    await system.shutdown();
    expect(events.workerStarted.length).toBe(2);
    expect(events.workerExited.map((e) => e.threadId).sort()).toEqual(events.workerStarted.map((e) => e.threadId).sort());
    expect(process.getActiveResourcesInfo().filter((r) => r !== 'Timeout').sort()).toEqual(before);
    await expect(refs[0]!.ask({ type: 'get' })).rejects.toBeInstanceOf(ActorStoppedError);
    await expect(system.spawn({ module: COUNTER, name: 'late' })).rejects.toBeInstanceOf(SystemShutdownError);
  });
});

describe('timeouts, abort and backpressure', () => {
  it('times out and aborts asks', async () => {
    const { system } = newSystem();
    const counter = await system.spawn<CounterProtocol>({ module: COUNTER, name: 'c' });
    await expect(counter.ask({ type: 'get' }, { timeoutMs: 10_000 })).resolves.toBe(0);
    await expect(counter.ask({ type: 'hang' }, { timeoutMs: 20 })).rejects.toBeInstanceOf(AskTimeoutError);
    const controller = new AbortController();
    const aborted = counter.ask({ type: 'slowInc', by: 1, ms: 1_000 }, { signal: controller.signal });
    controller.abort();
    await expect(aborted).rejects.toBeInstanceOf(AbortedError);
  });

  it('rejects with MailboxFullError when the bounded mailbox is full', async () => {
    const { system, events } = newSystem();
    const counter = await system.spawn<CounterProtocol>({ module: COUNTER, name: 'c', mailbox: { capacity: 2, overflow: 'reject' } });
    const busy = counter.ask({ type: 'slowInc', by: 1, ms: 200 });
    const queued = [counter.ask({ type: 'get' }), counter.ask({ type: 'get' })];
    const rejected = counter.ask({ type: 'get' });
    counter.tell({ type: 'inc', by: 100 });
    await expect(rejected).rejects.toBeInstanceOf(MailboxFullError);
    expect(await busy).toBe(1);
    expect(await Promise.all(queued)).toEqual([1, 1]);
    await eventually(() => events.deadLetter.length === 1);
    expect(events.deadLetter[0]).toEqual({ target: 'c', messageType: 'inc', reason: 'mailbox-full' });
  });

  it('drops the oldest waiting message with overflow drop-oldest', async () => {
    const { system } = newSystem();
    const counter = await system.spawn<CounterProtocol>({ module: COUNTER, name: 'c', mailbox: { capacity: 1, overflow: 'drop-oldest' } });
    const busy = counter.ask({ type: 'slowInc', by: 1, ms: 100 });
    const dropped = counter.ask({ type: 'echo', value: 'old' });
    const kept = counter.ask({ type: 'echo', value: 'new' });
    await expect(dropped).rejects.toBeInstanceOf(MailboxFullError);
    expect(await kept).toBe('new');
    expect(await busy).toBe(1);
  });
});

describe('bad input', () => {
  it('gives typed errors and keeps the system running', async () => {
    const { system, events } = newSystem();
    const counter = await system.spawn<CounterProtocol>({ module: COUNTER, name: 'c' });
    const other = await system.spawn<CounterProtocol>({ module: COUNTER, name: 'other' });
    expect(() => counter.tell({ type: 'echo', value: () => 1 })).toThrow(MessageNotCloneableError);
    await expect(counter.ask({ type: 'badReply' })).rejects.toBeInstanceOf(MessageNotCloneableError);
    const unknown = { type: 'nope' } as unknown as CounterProtocol;
    await expect(counter.ask(unknown)).rejects.toThrow(UnknownMessageError);
    counter.tell(unknown);
    await eventually(() => events.deadLetter.length === 1);
    expect(events.deadLetter[0]).toEqual({ target: 'c', messageType: 'nope', reason: 'unknown-message' });
    await expect(system.spawn({ module: new URL('./missing.js', COUNTER), name: 'x' })).rejects.toBeInstanceOf(ActorModuleNotFoundError);
    await expect(system.spawn({ module: FAULTY, exportName: 'notAnActor', name: 'y' })).rejects.toBeInstanceOf(ActorModuleNotFoundError);
    await expect(system.spawn({ module: COUNTER, name: 'c' })).rejects.toBeInstanceOf(InvalidActorOptionsError);
    await expect(system.spawn({ module: COUNTER, name: 'z', mailbox: { capacity: 0 } })).rejects.toThrow(/mailbox.capacity/);
    await system.stop(other);
    await expect(other.ask({ type: 'get' })).rejects.toBeInstanceOf(ActorStoppedError);
    expect(await counter.ask({ type: 'get' })).toBe(0);
    expect(events.crashed).toEqual([]);
  });
});

describe('pools', () => {
  it('runs stateless tasks on piscina replicas and aborts them', async () => {
    const { system } = newSystem();
    const pool = system.pool<{ value: number; delayMs?: number }, number>({ module: SQUARE, size: 2 });
    expect(await Promise.all([1, 2, 3, 4].map((value) => pool.run({ value })))).toEqual([1, 4, 9, 16]);
    const controller = new AbortController();
    const slow = pool.run({ value: 5, delayMs: 5_000 }, { signal: controller.signal });
    controller.abort();
    await expect(slow).rejects.toBeInstanceOf(AbortedError);
    expect(() => system.pool({ module: new URL('./missing.js', SQUARE) })).toThrow(ActorModuleNotFoundError);
  });
});
