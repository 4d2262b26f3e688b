/**
 * Elastic instances beyond flips: a restarted scheduler (its control worker ended, as after a
 * crash) gets back the roles instances serve after flips, not those they started with; instances
 * spawned while serving (thread and process placement) stay within `elastic.maxInstances` and the
 * role bounds and serve; a retired instance — retired under load — hands its work on, its actors
 * stop, its thread or process ends and every pool is back at its starting free count. Every greedy
 * request ends with the tokens of plain `generate`, streamed once each.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ActorRef, ActorSystem, Message } from '@baton/actors';
import { createEngine, ScaleRefusedError, type Engine, type EngineOptionsInput } from '@baton/engine';
import { eventually } from '../support/eventually.js';
import { pidAlive } from '../support/processes.js';
import { mixedPrompts } from '../support/reference.js';
import { expectPoolsFree, expectReference, onceAt, poolsNow, streamAll } from '../support/flip-load.js';

const MODEL = 'baton-tiny';
let engine: Engine | null = null;
afterEach(async () => {
  await engine?.close({ deadlineMs: 0 });
  engine = null;
});

async function start(options: EngineOptionsInput): Promise<Engine> {
  // NOTE: heartbeats are not under test here: on a loaded machine a busy actor may miss the default 5 s and be routed around.
  engine = await createEngine({ model: MODEL, backend: 'wasm', stallTimeoutMs: 20_000, health: { unhealthyAfterMs: 60_000, restartAfterMs: 120_000 }, ...options });
  return engine;
}

/**
 * The engine's actor system and scheduler ref. NOTE: fault injection reaches into the engine here:
 * no option crashes the scheduler, and ending its worker is what a crash of it does.
 */
function internals(e: Engine): { system: ActorSystem; scheduler: ActorRef<Message> } {
  const inner = e as unknown as { system: ActorSystem; topology: { scheduler: ActorRef<Message> } };
  return { system: inner.system, scheduler: inner.topology.scheduler };
}

async function roles(e: Engine): Promise<string[]> {
  return (await e.stats()).scheduler.elastic?.instances.map((i) => `${i.index}:${i.role}`) ?? [];
}

describe('elastic scheduler restart', () => {
  it('a restarted scheduler routes by the roles after flips, and later flips start from them', async () => {
    const e = await start({ prefill: 1, decode: 2, elastic: { mode: 'manual' } });
    await e.flip({ instance: 2, to: 'prefill' });
    expect(await roles(e)).toEqual(['0:prefill', '1:decode', '2:prefill']);
    const { system, scheduler } = internals(e);
    const restarted = new Promise<void>((resolve) => system.events.on('restarted', (ev) => ev.name === 'scheduler' && resolve()));
    expect(system.restartUnresponsive(scheduler, new Error('test: the control worker froze'))).toBe(true);
    await restarted;
    // NOTE: stats asked while the control worker restarts fail; they are asked again.
    await eventually(() => roles(e).catch(() => []), { until: (r) => r.join() === '0:prefill,1:decode,2:prefill', timeoutMs: 20_000, what: 'roles restored' });
    const stats = await e.stats();
    expect(stats.scheduler.elastic).toMatchObject({ prefill: 2, decode: 1, completedFlips: 1 });
    expect(stats.scheduler.elastic?.flips.map((f) => `${f.instance}:${f.to}`)).toEqual(['2:prefill']);
    // Served by the restored roles: decode-2 gets no sequence, prefill-2 may prefill.
    const decodedBefore = stats.actors.find((a) => a.name === 'decode-2')?.tokensProcessed ?? 0;
    const prompts = mixedPrompts(6, 23, 60);
    await expectReference(MODEL, prompts, 16, await streamAll(e, prompts, 16, () => undefined));
    const after = await e.stats();
    expect(after.actors.find((a) => a.name === 'decode-2')?.tokensProcessed ?? 0, 'decode-2 serves no decode').toBe(decodedBefore);
    // A scheduler that forgot would refuse this ("already serves decode").
    const back = await e.flip({ instance: 2, to: 'decode' });
    expect(back).toMatchObject({ instance: 2, from: 'prefill', to: 'decode' });
    expect(await roles(e)).toEqual(['0:prefill', '1:decode', '2:decode']);
  });
});

describe('spawning and retiring instances', () => {
  it('on threads: spawns within the bounds serve; a retirement under load loses nothing and leaks nothing; indices are not reused', async () => {
    const e = await start({ prefill: 1, decode: 1, elastic: { mode: 'manual', maxInstances: 3, maxPrefill: 2, maxDecode: 2 } });
    const before = await poolsNow(e);
    const spawned = await e.spawn({ role: 'prefill' });
    expect(spawned).toMatchObject({ action: 'spawn', instance: 2, role: 'prefill', reason: 'api' });
    expect(spawned.doneMs).toBeGreaterThanOrEqual(spawned.decidedMs);
    expect(await roles(e)).toEqual(['0:prefill', '1:decode', '2:prefill']);
    await expect(e.spawn({ role: 'decode' })).rejects.toThrow(ScaleRefusedError);
    await expect(e.spawn({ role: 'decode' })).rejects.toThrow(/elastic.maxInstances \(3\)/);
    // The new instance serves: long prompts at once go to both prefill instances.
    const prompts = mixedPrompts(8, 41, 120);
    await expectReference(MODEL, prompts, 12, await streamAll(e, prompts, 12, () => undefined));
    const served = await e.stats();
    expect(served.actors.find((a) => a.name === 'prefill-2')?.tokensProcessed ?? 0, 'prefill-2 prefilled').toBeGreaterThan(0);
    // Retire it while prompts queue on it: they go to prefill-0, every request completes.
    const load = mixedPrompts(8, 59, 100);
    const retire = onceAt(4, () => e.retire({ instance: 2 }));
    const outcomes = await streamAll(e, load, 24, retire.onTokens);
    const record = await retire.fired();
    expect(record).toMatchObject({ action: 'retire', instance: 2, role: 'prefill' });
    await expectReference(MODEL, load, 24, outcomes);
    const { system } = internals(e);
    expect(system.actorNames).not.toContain('prefill-2');
    expect(system.actorNames).not.toContain('decode-2');
    const stats = await e.stats();
    expect(stats.actors.map((a) => a.name).sort()).toEqual(['decode-0', 'decode-1', 'prefill-0', 'prefill-1']);
    expect(stats.scheduler.elastic?.scaling.map((s) => `${s.action}:${s.instance}`)).toEqual(['spawn:2', 'retire:2']);
    await expect(e.retire({ instance: 0 })).rejects.toThrow(/prefill would fall below its minimum of 1/);
    await expect(e.retire({ instance: 2 })).rejects.toThrow(/not a live instance/);
    await expectPoolsFree(e, before);
    // Capacity freed by the retirement can be spawned again, under a new index.
    expect(await e.spawn({ role: 'decode' })).toMatchObject({ action: 'spawn', instance: 3, role: 'decode' });
    const again = mixedPrompts(4, 77, 40);
    await expectReference(MODEL, again, 32, await streamAll(e, again, 32, () => undefined));
    await expectPoolsFree(e, before);
  });

  it('in child processes: a spawned decode instance is a process of its own and serves; retired, the process ends', async () => {
    const e = await start({ prefill: 1, decode: 1, placement: 'process', elastic: { mode: 'manual', maxInstances: 3 } });
    const before = await poolsNow(e);
    expect(await e.spawn({ role: 'decode' })).toMatchObject({ action: 'spawn', instance: 2, role: 'decode' });
    const pid = (await e.stats()).actors.find((a) => a.name === 'decode-2')?.pid ?? 0;
    expect(pid).not.toBe(0);
    expect(pid).not.toBe(process.pid);
    const prompts = mixedPrompts(8, 91, 50);
    await expectReference(MODEL, prompts, 40, await streamAll(e, prompts, 40, () => undefined));
    expect((await e.stats()).actors.find((a) => a.name === 'decode-2')?.tokensProcessed ?? 0, 'decode-2 decoded').toBeGreaterThan(0);
    const load = mixedPrompts(6, 97, 50);
    const retire = onceAt(30, () => e.retire({ instance: 2 }));
    const outcomes = await streamAll(e, load, 48, retire.onTokens);
    expect(await retire.fired()).toMatchObject({ action: 'retire', instance: 2, role: 'decode' });
    await expectReference(MODEL, load, 48, outcomes);
    await eventually(() => pidAlive(pid), { until: (alive) => !alive, timeoutMs: 15_000, what: 'the retired instance process ends' });
    expect((await e.stats()).actors.map((a) => a.name).sort()).toEqual(['decode-0', 'decode-1', 'prefill-0', 'prefill-1']);
    await expectPoolsFree(e, before);
  });
});
