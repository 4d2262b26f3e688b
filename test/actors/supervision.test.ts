// Supervision across threads: crashes in handlers, constructors, timers and whole threads.
import { describe, expect, it } from 'vitest';
import { ActorCrashedError, ActorStartError, ActorStoppedError, WorkerExitedError } from '@baton/actors';
import type { CounterProtocol } from '../../packages/actors/dist/testing/counter-actor.js';
import { COUNTER, FAULTY, eventually, newSystem } from './fixtures.js';

const fast = { backoff: { initialMs: 5, maxMs: 50 } };

describe('supervision', () => {
  it('restarts an actor whose handler threw; the ask fails with the cause', async () => {
    const { system, events } = newSystem();
    const counter = await system.spawn<CounterProtocol>({ module: COUNTER, name: 'c', init: { start: 1 }, supervision: fast });
    counter.tell({ type: 'inc', by: 10 });
    const failure = await counter.ask({ type: 'throw', message: 'kaboom' }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ActorCrashedError);
    expect(((failure as Error).cause as Error).message).toBe('kaboom');
    await eventually(() => events.restarted.length === 1);
    expect(await counter.ask({ type: 'get' })).toBe(1);
    expect(events.crashed[0]).toMatchObject({ name: 'c', willRestart: true });
  });

  it('fails pending asks at once when the thread calls process.exit, then restarts its actors', async () => {
    const { system, events } = newSystem();
    const spawn = (name: string) => system.spawn<CounterProtocol>({ module: COUNTER, name, group: 'g', supervision: fast });
    const [counter, exiter] = [await spawn('c'), await spawn('exiter')];
    const pending = counter.ask({ type: 'hang' }, { timeoutMs: 60_000 });
    exiter.tell({ type: 'exit', code: 3 });
    const failure = await pending.catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ActorCrashedError);
    expect((failure as Error).cause).toBeInstanceOf(WorkerExitedError);
    await eventually(() => events.restarted.length === 2);
    counter.tell({ type: 'inc', by: 2 });
    expect(await counter.ask({ type: 'get' })).toBe(2);
    expect(await exiter.ask({ type: 'threadId' })).toBe(await counter.ask({ type: 'threadId' }));
  });

  it('reconnects refs held inside other workers after the target thread is respawned', async () => {
    const { system, events } = newSystem();
    const target = await system.spawn<CounterProtocol>({ module: COUNTER, name: 'target', supervision: fast });
    const holder = await system.spawn<CounterProtocol>({ module: COUNTER, name: 'holder' });
    holder.tell({ type: 'sendRecords', to: target, sender: 'before', count: 3 });
    let before: unknown[] = [];
    await eventually(() => {
      void target.ask({ type: 'log' }).then((log) => (before = log));
      return before.length === 3;
    });
    target.tell({ type: 'exit', code: 9 });
    await eventually(() => events.restarted.length === 1);
    let log: Array<{ sender: string; seq: number }> = [];
    for (let attempt = 0; attempt < 100 && log.length < 3; attempt++) {
      holder.tell({ type: 'sendRecords', to: target, sender: `after-${attempt}`, count: 3 });
      await new Promise((resolve) => setTimeout(resolve, 20));
      log = await target.ask({ type: 'log' });
    }
    expect(log.map((entry) => entry.seq)).toEqual([0, 1, 2]);
  });

  it('keeps an inbox running when its handler throws', async () => {
    const { system, events } = newSystem();
    const seen: number[] = [];
    const inbox = system.inbox<{ type: 'n'; n: number }>(({ n }) => {
      if (n === 1) throw new Error('inbox handler failed');
      seen.push(n);
    });
    for (const n of [0, 1, 2]) inbox.tell({ type: 'n', n });
    await eventually(() => seen.length === 2);
    expect(seen).toEqual([0, 2]);
    expect(events.crashed).toMatchObject([{ cause: { message: 'inbox handler failed' } }]);
  });

  it('restarts after an uncaught asynchronous error in the worker', async () => {
    const { system, events } = newSystem();
    const counter = await system.spawn<CounterProtocol>({ module: COUNTER, name: 'c', supervision: fast });
    counter.tell({ type: 'throwLater', message: 'late failure' });
    await eventually(() => events.restarted.length === 1);
    expect(events.crashed[0]?.cause.message).toBe('late failure');
    expect(await counter.ask({ type: 'get' })).toBe(0);
  });

  it('re-runs the constructor on restart and escalates when it keeps failing', async () => {
    const { system, events } = newSystem();
    const constructions = new SharedArrayBuffer(4);
    const counter = await system.spawn<CounterProtocol>({
      module: COUNTER,
      name: 'c',
      init: { constructions, failOnRestart: true },
      supervision: { maxRestarts: 2, ...fast },
    });
    await counter.ask({ type: 'throw', message: 'first' }).catch(() => {});
    await eventually(() => events.escalated.length === 1 && events.stopped.length === 1);
    expect(Atomics.load(new Int32Array(constructions), 0)).toBe(3);
    expect(events.escalated[0]).toMatchObject({ name: 'c', restarts: 2 });
    expect(events.stopped).toMatchObject([{ name: 'c', reason: 'escalated' }]);
    await expect(counter.ask({ type: 'get' })).rejects.toBeInstanceOf(ActorStoppedError);
  });

  it('stops and escalates on the first crash with strategy stop', async () => {
    const { system, events } = newSystem();
    const counter = await system.spawn<CounterProtocol>({ module: COUNTER, name: 'c', supervision: { strategy: 'stop' } });
    await counter.ask({ type: 'throw', message: 'once' }).catch(() => {});
    await eventually(() => events.stopped.length === 1);
    expect(events.restarted).toEqual([]);
    await expect(counter.ask({ type: 'get' })).rejects.toBeInstanceOf(ActorStoppedError);
  });

  it('fails asks fast with ActorCrashedError while the actor is down', async () => {
    const { system, events } = newSystem();
    const counter = await system.spawn<CounterProtocol>({
      module: COUNTER,
      name: 'c',
      supervision: { backoff: { initialMs: 60_000 } },
    });
    await counter.ask({ type: 'throw', message: 'down now' }).catch(() => {});
    await expect(counter.ask({ type: 'get' })).rejects.toBeInstanceOf(ActorCrashedError);
    await eventually(() => events.crashed.length === 1);
    expect(events.restarted).toEqual([]);
  });

  it('rejects spawn with ActorStartError when the constructor or onStart fails', async () => {
    const { system } = newSystem();
    const spawn = (exportName: string) => system.spawn({ module: FAULTY, exportName, name: exportName });
    const ctor = await spawn('ThrowingConstructorActor').catch((error: unknown) => error);
    expect(ctor).toBeInstanceOf(ActorStartError);
    expect(((ctor as Error).cause as Error).message).toBe('constructor refused');
    await expect(spawn('FailingStartActor')).rejects.toThrow(/onStart refused/);
    const exited = await spawn('ExitingConstructorActor').catch((error: unknown) => error);
    expect(exited).toBeInstanceOf(ActorStartError);
    expect((exited as Error).cause).toBeInstanceOf(WorkerExitedError);
    const counter = await system.spawn<CounterProtocol>({ module: COUNTER, name: 'still-fine' });
    expect(await counter.ask({ type: 'get' })).toBe(0);
  });
});
