// Supervision in both placements: crashes in handlers, constructors, timers and whole hosts
// (a worker thread or an actor process that exits, throws uncaught or is killed with SIGKILL).
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ActorCrashedError, ActorStartError, ActorStoppedError, ProcessExitedError, type Placement } from '@baton/actors';
import type { CounterProtocol } from '../../packages/actors/dist/testing/counter-actor.js';
import { COUNTER, FAULTY, PLACEMENTS, eventually, hostCounts, hostExitError, newSystem, pidAlive } from './fixtures.js';

const fast = { backoff: { initialMs: 5, maxMs: 50 } };

const scratch = mkdtempSync(join(tmpdir(), 'baton-supervision-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
let files = 0;

/** A new file path in this suite's scratch folder. */
function tempFile(): string {
  return join(scratch, `log-${files++}`);
}

/** Lines written to `file` so far (0 when it does not exist yet). */
function linesIn(file: string): number {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').length - 1 : 0;
}

describe.each(PLACEMENTS)('supervision (placement %s)', (placement: Placement) => {
  it('restarts an actor whose handler threw; the ask fails with the cause', async () => {
    const { system, events } = newSystem();
    const counter = await system.spawn<CounterProtocol>({ module: COUNTER, name: 'c', placement, init: { start: 1 }, supervision: fast });
    counter.tell({ type: 'inc', by: 10 });
    const failure = await counter.ask({ type: 'throw', message: 'kaboom' }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ActorCrashedError);
    expect(((failure as Error).cause as Error).message).toBe('kaboom');
    await eventually(() => events.restarted.length === 1);
    expect(await counter.ask({ type: 'get' })).toBe(1);
    expect(events.crashed[0]).toMatchObject({ name: 'c', willRestart: true });
  });

  it('fails pending asks at once when the host calls process.exit, then restarts its actors', async () => {
    const { system, events } = newSystem();
    const spawn = (name: string) => system.spawn<CounterProtocol>({ module: COUNTER, name, placement, group: 'g', supervision: fast });
    const [counter, exiter] = [await spawn('c'), await spawn('exiter')];
    const before = await counter.ask({ type: 'where' });
    const pending = counter.ask({ type: 'hang' }, { timeoutMs: 60_000 });
    exiter.tell({ type: 'exit', code: 3 });
    const failure = await pending.catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ActorCrashedError);
    expect((failure as Error).cause).toBeInstanceOf(hostExitError(placement));
    await eventually(() => events.restarted.length === 2);
    counter.tell({ type: 'inc', by: 2 });
    expect(await counter.ask({ type: 'get' })).toBe(2);
    const after = await counter.ask({ type: 'where' });
    expect(await exiter.ask({ type: 'where' })).toEqual(after);
    expect(after).not.toEqual(before);
    expect(hostCounts(events, placement)).toEqual({ started: 2, exited: 1 });
  });

  it('delivers a message carrying a ref to an actor that is still restarting, sent while the receiver reconnects', async () => {
    const { system, events } = newSystem();
    // NOTE: the target restarts well after the holder, so the ref inside the message points at an
    // actor that is down while the message waits for the holder's link to come back.
    const target = await system.spawn<CounterProtocol>({ module: COUNTER, name: 'target', placement, group: 'g', supervision: { backoff: { initialMs: 400, maxMs: 400 } } });
    const holder = await system.spawn<CounterProtocol>({ module: COUNTER, name: 'holder', placement, group: 'g', supervision: fast });
    holder.tell({ type: 'exit', code: 3 });
    await eventually(() => events.restarted.some((e) => e.name === 'holder'));
    const echoed = (await holder.ask({ type: 'echo', value: { to: target } })) as { to: typeof target };
    await eventually(() => events.restarted.some((e) => e.name === 'target'));
    target.tell({ type: 'inc', by: 4 });
    let count: number | null = null;
    await eventually(() => {
      void echoed.to.ask({ type: 'get' }).then((c) => (count = c), () => undefined);
      return count === 4;
    });
    expect(count).toBe(4);
  });

  it('reconnects refs held inside other hosts after the target host is respawned', async () => {
    const { system, events } = newSystem();
    const target = await system.spawn<CounterProtocol>({ module: COUNTER, name: 'target', placement, supervision: fast });
    const holder = await system.spawn<CounterProtocol>({ module: COUNTER, name: 'holder', placement });
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
    // NOTE: a later batch may land too while the loop waits; each batch arrives whole and in order.
    const senders = [...new Set(log.map((entry) => entry.sender))];
    expect(senders.length).toBeGreaterThan(0);
    for (const sender of senders) expect(log.filter((entry) => entry.sender === sender).map((entry) => entry.seq)).toEqual([0, 1, 2]);
  });

  it('restarts after an uncaught asynchronous error in the host', async () => {
    const { system, events } = newSystem();
    const counter = await system.spawn<CounterProtocol>({ module: COUNTER, name: 'c', placement, supervision: fast });
    counter.tell({ type: 'throwLater', message: 'late failure' });
    await eventually(() => events.restarted.length === 1);
    expect(events.crashed[0]?.cause.message).toBe('late failure');
    expect(await counter.ask({ type: 'get' })).toBe(0);
  });

  it('re-runs the constructor on restart and escalates when it keeps failing', async () => {
    const { system, events } = newSystem();
    const counter = await system.spawn<CounterProtocol>({
      module: COUNTER,
      name: 'c',
      placement,
      init: { failOnRestart: true },
      supervision: { maxRestarts: 2, ...fast },
    });
    expect(await counter.ask({ type: 'constructions' })).toBe(1);
    await counter.ask({ type: 'throw', message: 'first' }).catch(() => {});
    await eventually(() => events.escalated.length === 1 && events.stopped.length === 1);
    expect(events.crashed.map((event) => event.cause.message)).toEqual(['first', "actor 'c' failed to start: Error: construction 2 refused", "actor 'c' failed to start: Error: construction 3 refused"]);
    expect(events.escalated[0]).toMatchObject({ name: 'c', restarts: 2 });
    expect(events.stopped).toMatchObject([{ name: 'c', reason: 'escalated' }]);
    await expect(counter.ask({ type: 'get' })).rejects.toBeInstanceOf(ActorStoppedError);
  });

  it('stops and escalates on the first crash with strategy stop', async () => {
    const { system, events } = newSystem();
    const counter = await system.spawn<CounterProtocol>({ module: COUNTER, name: 'c', placement, supervision: { strategy: 'stop' } });
    await counter.ask({ type: 'throw', message: 'once' }).catch(() => {});
    await eventually(() => events.stopped.length === 1);
    expect(events.restarted).toEqual([]);
    await expect(counter.ask({ type: 'get' })).rejects.toBeInstanceOf(ActorStoppedError);
  });

  it('fails asks fast with ActorCrashedError while the actor is down', async () => {
    const { system, events } = newSystem();
    const counter = await system.spawn<CounterProtocol>({ module: COUNTER, name: 'c', placement, supervision: { backoff: { initialMs: 60_000 } } });
    await counter.ask({ type: 'throw', message: 'down now' }).catch(() => {});
    await expect(counter.ask({ type: 'get' })).rejects.toBeInstanceOf(ActorCrashedError);
    await eventually(() => events.crashed.length === 1);
    expect(events.restarted).toEqual([]);
  });

  it('rejects spawn with ActorStartError when the constructor or onStart fails', async () => {
    const { system } = newSystem();
    const spawn = (exportName: string) => system.spawn({ module: FAULTY, exportName, name: exportName, placement });
    const ctor = await spawn('ThrowingConstructorActor').catch((error: unknown) => error);
    expect(ctor).toBeInstanceOf(ActorStartError);
    expect(((ctor as Error).cause as Error).message).toBe('constructor refused');
    await expect(spawn('FailingStartActor')).rejects.toThrow(/onStart refused/);
    const exited = await spawn('ExitingConstructorActor').catch((error: unknown) => error);
    expect(exited).toBeInstanceOf(ActorStartError);
    expect((exited as Error).cause).toBeInstanceOf(hostExitError(placement));
    const counter = await system.spawn<CounterProtocol>({ module: COUNTER, name: 'still-fine', placement });
    expect(await counter.ask({ type: 'get' })).toBe(0);
  });
});

describe('supervision of actor processes', () => {
  it('on SIGKILL rejects pending asks at once (from main and from other processes), restarts, and reconnects refs', async () => {
    const { system, events } = newSystem();
    const hangLog = tempFile();
    const target = await system.spawn<CounterProtocol>({ module: COUNTER, name: 'target', placement: 'process', init: { hangLog }, supervision: fast });
    const holder = await system.spawn<CounterProtocol>({ module: COUNTER, name: 'holder', placement: 'process' });
    const threadHolder = await system.spawn<CounterProtocol>({ module: COUNTER, name: 'thread-holder' });
    const { pid } = await target.ask({ type: 'where' });
    expect((await system.stats()).find((stats) => stats.name === 'target')).toMatchObject({ placement: 'process', pid, state: 'running' });
    const fromMain = target.ask({ type: 'hang' }, { timeoutMs: 60_000 }).catch((error: unknown) => error);
    const fromProcess = holder.ask({ type: 'askOther', to: target, msg: { type: 'hang' }, timeoutMs: 60_000 });
    const fromThread = threadHolder.ask({ type: 'askOther', to: target, msg: { type: 'hang' }, timeoutMs: 60_000 });
    // The first hang holds the actor; the other two wait in its mailbox. All three must have arrived.
    await eventually(async () => linesIn(hangLog) === 1 && (await system.stats()).some((stats) => stats.name === 'target' && stats.queued === 2), {
      what: 'all three asks to reach the target',
    });
    process.kill(pid, 'SIGKILL');
    const failure = await fromMain;
    expect(failure).toBeInstanceOf(ActorCrashedError);
    expect((failure as Error).cause).toBeInstanceOf(ProcessExitedError);
    expect((failure as ProcessExitedError & { cause: ProcessExitedError }).cause.signal).toBe('SIGKILL');
    expect(await fromProcess).toBe('rejected ActorCrashedError (ProcessExitedError)');
    expect(await fromThread).toBe('rejected ActorCrashedError (ProcessExitedError)');
    expect(events.processExited).toContainEqual({ pid, exitCode: null, signal: 'SIGKILL' });
    await eventually(() => events.restarted.length === 1);
    const after = await target.ask({ type: 'where' });
    expect(after.pid).not.toBe(pid);
    expect(pidAlive(pid)).toBe(false);
    expect(await holder.ask({ type: 'askOther', to: target, msg: { type: 'get' }, timeoutMs: 10_000 })).toBe('resolved 0');
    expect(await threadHolder.ask({ type: 'askOther', to: target, msg: { type: 'get' }, timeoutMs: 10_000 })).toBe('resolved 0');
  });

  it('reconnects a process actor\'s ref to a thread actor whose worker was respawned', async () => {
    const { system, events } = newSystem();
    const hangLog = tempFile();
    const target = await system.spawn<CounterProtocol>({ module: COUNTER, name: 'target', group: 'g', init: { hangLog }, supervision: fast });
    const exiter = await system.spawn<CounterProtocol>({ module: COUNTER, name: 'exiter', group: 'g', supervision: fast });
    const holder = await system.spawn<CounterProtocol>({ module: COUNTER, name: 'holder', placement: 'process' });
    expect(await holder.ask({ type: 'askOther', to: target, msg: { type: 'echo', value: 1 }, timeoutMs: 10_000 })).toBe('resolved 1');
    const pending = holder.ask({ type: 'askOther', to: target, msg: { type: 'hang' }, timeoutMs: 60_000 });
    await eventually(() => linesIn(hangLog) === 1, { what: 'the target to be handling the hang' });
    exiter.tell({ type: 'exit', code: 4 });
    expect(await pending).toBe('rejected ActorCrashedError (WorkerExitedError)');
    await eventually(() => events.restarted.length === 2);
    expect(await holder.ask({ type: 'askOther', to: target, msg: { type: 'echo', value: 2 }, timeoutMs: 10_000 })).toBe('resolved 2');
  });

  it('escalates when the process keeps dying, and leaves no process behind', async () => {
    const { system, events } = newSystem();
    const counter = await system.spawn<CounterProtocol>({ module: COUNTER, name: 'c', placement: 'process', supervision: { maxRestarts: 1, ...fast } });
    for (let round = 0; round < 2; round++) {
      if (round > 0) await eventually(() => events.restarted.length === round);
      const { pid } = await counter.ask({ type: 'where' });
      process.kill(pid, 'SIGKILL');
      await eventually(() => !pidAlive(pid));
    }
    await eventually(() => events.escalated.length === 1 && events.stopped.length === 1);
    expect(events.stopped).toMatchObject([{ name: 'c', reason: 'escalated' }]);
    await eventually(() => events.processExited.length === 2);
    expect(events.processStarted).toHaveLength(2);
    await expect(counter.ask({ type: 'get' })).rejects.toBeInstanceOf(ActorStoppedError);
  });
});

describe('inboxes', () => {
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
});
