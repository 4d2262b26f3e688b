import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import CounterActor, { type CounterEvent } from '../testing/counter-actor.js';
import { ThrowingConstructorActor } from '../testing/faulty-actors.js';
import { ActorCrashedError, ActorStoppedError, MailboxFullError, MessageNotCloneableError, UnknownMessageError } from '../errors.js';
import type { Message } from '../message.js';
import { ActorTestKit } from './actor-test-kit.js';

let kit = new ActorTestKit();
afterEach(async () => {
  await kit.shutdown();
  kit = new ActorTestKit();
});

describe('ActorTestKit', () => {
  it('runs an actor in the test thread with typed asks', async () => {
    const counter = await kit.spawn(CounterActor, { init: { start: 2 } });
    counter.ref.tell({ type: 'inc', by: 3 });
    const value = await counter.ref.ask({ type: 'get' });
    expectTypeOf(value).toEqualTypeOf<number>();
    expect(value).toBe(5);
  });

  it('records messages on probes and checks them with expectMessage / expectNoMessage', async () => {
    const counter = await kit.spawn(CounterActor, { init: { start: 7 } });
    const probe = kit.probe<CounterEvent>();
    counter.ref.tell({ type: 'report', to: probe.ref });
    await probe.expectMessage({ type: 'value', count: 7 });
    await probe.expectNoMessage();
    counter.ref.tell({ type: 'report', to: probe.ref });
    await expect(probe.expectMessage({ type: 'value', count: 8 })).rejects.toThrow(/does not match/);
    await expect(probe.expectMessage(undefined, { timeoutMs: 10 })).rejects.toThrow(/no message arrived/);
    expect(probe.messages).toHaveLength(2);
  });

  it('drives actor timers with the manual clock', async () => {
    const counter = await kit.spawn(CounterActor);
    const probe = kit.probe<CounterEvent>();
    counter.ref.tell({ type: 'tickEvery', ms: 100, to: probe.ref });
    await kit.settle();
    await probe.expectNoMessage();
    kit.clock.advance(99);
    await probe.expectNoMessage();
    kit.clock.advance(1);
    await probe.expectMessage({ type: 'tick', at: 100 });
    kit.clock.advance(250);
    await probe.expectMessage({ type: 'tick', at: 200 });
    await probe.expectMessage((msg) => msg.type === 'tick' && msg.at === 300);
    await probe.expectNoMessage();
    await counter.stop();
    expect(kit.clock.pendingTimers).toBe(0);
  });

  it('answers asks to a probe with respondWith', async () => {
    type Question = { type: 'q' } & { readonly __r?: number };
    const probe = kit.probe<Question>().respondWith(() => 42);
    expect(await probe.ref.ask({ type: 'q' })).toBe(42);
  });

  it('records crashes and restarts on request; the failing ask gets the cause', async () => {
    const counter = await kit.spawn(CounterActor, { init: { start: 1 } });
    const failure = await counter.ref.ask({ type: 'throw', message: 'oops' }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ActorCrashedError);
    expect(kit.crashes).toHaveLength(1);
    expect(counter.state).toBe('down');
    await expect(counter.ref.ask({ type: 'get' })).rejects.toBeInstanceOf(ActorCrashedError);
    await counter.restart();
    expect(await counter.ref.ask({ type: 'get' })).toBe(1);
  });

  it('reports bad input with the same typed errors as the real runtime', async () => {
    const counter = await kit.spawn(CounterActor, { mailbox: { capacity: 1 } });
    expect(() => counter.ref.tell({ type: 'echo', value: Symbol('x') })).toThrow(MessageNotCloneableError);
    const unknown = { type: 'nope' } as unknown as Message as never;
    await expect(counter.ref.ask(unknown)).rejects.toBeInstanceOf(UnknownMessageError);
    const slow = counter.ref.ask({ type: 'hang' }, { timeoutMs: 1_000 });
    const queued = counter.ref.ask({ type: 'get' });
    const overflow = counter.ref.ask({ type: 'get' });
    await expect(overflow).rejects.toBeInstanceOf(MailboxFullError);
    await kit.shutdown();
    await expect(queued).rejects.toBeInstanceOf(ActorStoppedError);
    await expect(slow).rejects.toBeInstanceOf(ActorStoppedError);
    await expect(kit.spawn(ThrowingConstructorActor)).rejects.toThrow('constructor refused');
  });

  it('runs onStop on graceful stop after draining', async () => {
    const watcher = kit.probe<CounterEvent>();
    const counter = await kit.spawn(CounterActor, { init: { watcher: watcher.ref } });
    for (let i = 0; i < 5; i++) counter.ref.tell({ type: 'inc', by: 1 });
    counter.ref.tell({ type: 'stopSelf' });
    await watcher.expectMessage({ type: 'stopping', count: 5 });
    expect(counter.state).toBe('stopped');
  });

  it('runs an actor meant for an actor process unchanged, checking messages as a process would', async () => {
    const counter = await kit.spawn(CounterActor, { init: { start: 1 }, placement: 'process' });
    expect((await counter.ref.ask({ type: 'where' })).placement).toBe('process');
    const shared = new SharedArrayBuffer(4);
    expect(() => counter.ref.tell({ type: 'sum', data: shared })).toThrow(/^message\.data is a SharedArrayBuffer, which cannot cross a process/);
    expect(() => counter.ref.tell({ type: 'sum', data: shared })).toThrow(MessageNotCloneableError);
    const threaded = await kit.spawn(CounterActor, { init: { start: 1 } });
    expect((await threaded.ref.ask({ type: 'where' })).placement).toBe('thread');
    expect(await threaded.ref.ask({ type: 'sum', data: shared })).toBe(0);
  });
});
