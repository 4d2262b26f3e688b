// Stop, kill, shutdown, timeouts, abort, backpressure and bad input in both placements; pools.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
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
  type Placement,
} from '@baton/actors';
import type { CounterEvent, CounterProtocol } from '../../packages/actors/dist/testing/counter-actor.js';
import { COUNTER, FAULTY, ORPHAN_PARENT, PLACEMENTS, SQUARE, eventually, hostCounts, newSystem, pidAlive } from './fixtures.js';

/** Open handles of this process, timers aside (the test runner keeps some). */
function openHandles(): string[] {
  return process.getActiveResourcesInfo().filter((r) => r !== 'Timeout').sort();
}

describe.each(PLACEMENTS)('lifecycle (placement %s)', (placement: Placement) => {
  describe('stop, kill and shutdown', () => {
    it('stops gracefully: drains the mailbox, then runs onStop', async () => {
      const { system, events } = newSystem();
      const seen: CounterEvent[] = [];
      const watcher = system.inbox<CounterEvent>((msg) => void seen.push(msg));
      const counter = await system.spawn<CounterProtocol>({ module: COUNTER, name: 'c', placement, init: { watcher } });
      for (let i = 0; i < 100; i++) counter.tell({ type: 'inc', by: 1 });
      await system.stop(counter);
      await eventually(() => seen.length === 1);
      expect(seen).toEqual([{ type: 'stopping', count: 100 }]);
      expect(events.stopped).toEqual([{ name: 'c', reason: 'stopped', error: null }]);
      await expect(counter.ask({ type: 'get' })).rejects.toBeInstanceOf(ActorStoppedError);
    });

    it('answers asks queued before a graceful stop and refuses those sent during it', async () => {
      const { system } = newSystem();
      const counter = await system.spawn<CounterProtocol>({ module: COUNTER, name: 'c', placement });
      const busy = counter.ask({ type: 'slowInc', by: 1, ms: 300 });
      const queued = counter.ask({ type: 'get' });
      const stopping = system.stop(counter);
      // The host lists an actor until its stop begins (it then drains its mailbox).
      await eventually(async () => !(await system.stats()).some((stats) => stats.name === 'c'), { what: 'the stop to begin' });
      const late = counter.ask({ type: 'get' }).catch((error: unknown) => error);
      expect(await busy).toBe(1);
      expect(await queued).toBe(1);
      expect(await late).toBeInstanceOf(ActorStoppedError);
      await stopping;
    });

    it('kills at once: a hanging ask rejects with ActorStoppedError and the host ends', async () => {
      const { system, events } = newSystem();
      const counter = await system.spawn<CounterProtocol>({ module: COUNTER, name: 'c', placement });
      const { pid } = await counter.ask({ type: 'where' });
      const hanging = counter.ask({ type: 'hang' });
      await system.kill(counter);
      await expect(hanging).rejects.toBeInstanceOf(ActorStoppedError);
      await eventually(() => hostCounts(events, placement).exited === 1);
      expect(events.stopped).toMatchObject([{ name: 'c', reason: 'killed' }]);
      if (placement === 'process') expect(pidAlive(pid)).toBe(false);
    });

    it('stops itself through context.stop()', async () => {
      const { system, events } = newSystem();
      const counter = await system.spawn<CounterProtocol>({ module: COUNTER, name: 'c', placement });
      counter.tell({ type: 'stopSelf' });
      await eventually(() => events.stopped.length === 1 && hostCounts(events, placement).exited === 1);
      await expect(counter.ask({ type: 'get' })).rejects.toBeInstanceOf(ActorStoppedError);
    });

    it('stops one actor of a group and keeps the others in their host', async () => {
      const { system, events } = newSystem();
      const [a, b] = await Promise.all(['a', 'b'].map((name) => system.spawn<CounterProtocol>({ module: COUNTER, name, placement, group: 'g' })));
      const hanging = a!.ask({ type: 'hang' }).catch((error: unknown) => error);
      await system.kill(a!);
      expect(await hanging).toBeInstanceOf(ActorStoppedError);
      await expect(a!.ask({ type: 'get' })).rejects.toBeInstanceOf(ActorStoppedError);
      b!.tell({ type: 'inc', by: 4 });
      expect(await b!.ask({ type: 'get' })).toBe(4);
      expect(hostCounts(events, placement)).toEqual({ started: 1, exited: 0 });
    });

    it('leaves no process, thread, port, socket or timer after shutdown', async () => {
      const before = openHandles();
      const { system, events } = newSystem();
      const inbox = system.inbox(() => {});
      const refs = await Promise.all(
        ['a', 'b', 'c'].map((name, i) => system.spawn<CounterProtocol>({ module: COUNTER, name, placement, ...(i > 0 ? { group: 'g' } : {}) })),
      );
      const pids = await Promise.all(refs.map(async (ref) => (await ref.ask({ type: 'where' })).pid));
      refs[0]?.tell({ type: 'tickEvery', ms: 1, to: inbox as never });
      refs[0]?.tell({ type: 'sendRecords', to: refs[2]!, sender: 'a', count: 3 });
      await refs[1]?.ask({ type: 'throw', message: 'crash into a long backoff' }).catch(() => {});
      const pool = system.pool<{ value: number }, number>({ module: SQUARE, size: 2 });
      expect(await pool.run({ value: 4 })).toBe(16);
      await system.shutdown();
      const { started, exited } = hostCounts(events, placement);
      expect(started).toBe(2);
      expect(exited).toBe(2);
      if (placement === 'thread') {
        expect(events.workerExited.map((e) => e.threadId).sort()).toEqual(events.workerStarted.map((e) => e.threadId).sort());
      } else {
        expect(events.processExited.map((e) => e.pid).sort()).toEqual(events.processStarted.map((e) => e.pid).sort());
        for (const pid of pids) expect(pidAlive(pid)).toBe(false);
      }
      expect(openHandles()).toEqual(before);
      await expect(refs[0]!.ask({ type: 'get' })).rejects.toBeInstanceOf(ActorStoppedError);
      await expect(system.spawn({ module: COUNTER, name: 'late', placement })).rejects.toBeInstanceOf(SystemShutdownError);
    });
  });

  describe('timeouts, abort and backpressure', () => {
    it('times out and aborts asks', async () => {
      const { system } = newSystem();
      const counter = await system.spawn<CounterProtocol>({ module: COUNTER, name: 'c', placement });
      await expect(counter.ask({ type: 'get' }, { timeoutMs: 10_000 })).resolves.toBe(0);
      await expect(counter.ask({ type: 'hang' }, { timeoutMs: 20 })).rejects.toBeInstanceOf(AskTimeoutError);
      const controller = new AbortController();
      const aborted = counter.ask({ type: 'slowInc', by: 1, ms: 1_000 }, { signal: controller.signal });
      controller.abort();
      await expect(aborted).rejects.toBeInstanceOf(AbortedError);
      await expect(counter.ask({ type: 'get' }, { signal: controller.signal })).rejects.toBeInstanceOf(AbortedError);
    });

    it('rejects with MailboxFullError when the bounded mailbox is full', async () => {
      const { system, events } = newSystem();
      const counter = await system.spawn<CounterProtocol>({ module: COUNTER, name: 'c', placement, mailbox: { capacity: 2, overflow: 'reject' } });
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
      const counter = await system.spawn<CounterProtocol>({ module: COUNTER, name: 'c', placement, mailbox: { capacity: 1, overflow: 'drop-oldest' } });
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
      const counter = await system.spawn<CounterProtocol>({ module: COUNTER, name: 'c', placement });
      const other = await system.spawn<CounterProtocol>({ module: COUNTER, name: 'other', placement });
      expect(() => counter.tell({ type: 'echo', value: () => 1 })).toThrow(MessageNotCloneableError);
      await expect(counter.ask({ type: 'badReply' })).rejects.toBeInstanceOf(MessageNotCloneableError);
      const unknown = { type: 'nope' } as unknown as CounterProtocol;
      await expect(counter.ask(unknown)).rejects.toThrow(UnknownMessageError);
      counter.tell(unknown);
      await eventually(() => events.deadLetter.length === 1);
      expect(events.deadLetter[0]).toEqual({ target: 'c', messageType: 'nope', reason: 'unknown-message' });
      await expect(system.spawn({ module: new URL('./missing.js', COUNTER), name: 'x', placement })).rejects.toBeInstanceOf(ActorModuleNotFoundError);
      await expect(system.spawn({ module: FAULTY, exportName: 'notAnActor', name: 'y', placement })).rejects.toBeInstanceOf(ActorModuleNotFoundError);
      await expect(system.spawn({ module: COUNTER, name: 'c', placement })).rejects.toBeInstanceOf(InvalidActorOptionsError);
      await expect(system.spawn({ module: COUNTER, name: 'z', placement, mailbox: { capacity: 0 } })).rejects.toThrow(/mailbox.capacity/);
      await system.stop(other);
      await expect(other.ask({ type: 'get' })).rejects.toBeInstanceOf(ActorStoppedError);
      other.tell({ type: 'inc', by: 1 });
      await eventually(() => events.deadLetter.length === 2);
      expect(events.deadLetter[1]).toEqual({ target: 'other', messageType: 'inc', reason: 'stopped' });
      expect(await counter.ask({ type: 'get' })).toBe(0);
      expect(events.crashed).toEqual([]);
    });
  });
});

describe('placement options', () => {
  it('rejects bad placement options with errors naming the option', async () => {
    const { system } = newSystem();
    const bad = (options: Record<string, unknown>) => system.spawn({ module: COUNTER, name: 'p', ...options });
    await expect(bad({ placement: 'elsewhere' })).rejects.toThrow(/invalid option 'placement': expected/);
    await expect(bad({ processArgs: ['--role', 'x'] })).rejects.toThrow(/invalid option 'processArgs': only applies with placement 'process'/);
    await expect(bad({ placement: 'process', processArgs: [1] })).rejects.toThrow(/invalid option 'processArgs'/);
    await system.spawn({ module: COUNTER, name: 'in-thread', group: 'g' });
    await expect(bad({ placement: 'process', group: 'g' })).rejects.toThrow(/invalid option 'group': group 'g' runs with placement 'thread'/);
  });

  it('appends processArgs to the actor process command line', async () => {
    const { system } = newSystem();
    const decode = await system.spawn<CounterProtocol>({ module: COUNTER, name: 'd', placement: 'process', processArgs: ['--role', 'decode', '--index', '1'] });
    const where = await decode.ask({ type: 'where' });
    expect(where.argv).toEqual(['--role', 'decode', '--index', '1']);
    if (process.platform === 'linux') {
      const { readFileSync } = await import('node:fs');
      const cmdline = readFileSync(`/proc/${where.pid}/cmdline`, 'utf8').split('\0');
      expect(cmdline.slice(-5, -1)).toEqual(['--role', 'decode', '--index', '1']);
    }
  });
});

describe('actor processes and their parent', () => {
  it('end when the parent process is killed with SIGKILL (no orphan is left)', async () => {
    const parent = spawn(process.execPath, [fileURLToPath(ORPHAN_PARENT)], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let out = '';
        parent.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          if (out.includes('\n')) resolve(out.trim());
        });
        parent.once('exit', (code) => reject(new Error(`the parent exited early with code ${String(code)}`)));
      });
      const child = Number(line);
      expect(pidAlive(child)).toBe(true);
      parent.kill('SIGKILL');
      await eventually(() => !pidAlive(child), { timeoutMs: 10_000, what: "the orphaned actor process to end" });
    } finally {
      parent.kill('SIGKILL');
    }
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
