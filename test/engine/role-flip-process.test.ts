/**
 * Elastic role flips on process placement: each instance is one child process holding a prefill
 * and a decode actor (one model). A decode instance flipping to prefill streams its running
 * sequences' KV over the transfer stream into the other decode process's pool; a flip racing with
 * a SIGKILL of the flipping process still completes once it restarts. In every case each greedy
 * request ends with the tokens of plain `generate`, streamed once each, and no pool keeps a block.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '@baton/engine';
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

async function start(prefill: number, decode: number): Promise<Engine> {
  engine = await createEngine({ model: MODEL, backend: 'wasm', prefill, decode, placement: 'process', stallTimeoutMs: 20_000, elastic: { mode: 'manual' },
    // NOTE: heartbeats are not under test here: on a loaded machine a busy actor may miss the default 5 s and be routed around.
    health: { unhealthyAfterMs: 60_000, restartAfterMs: 120_000 } });
  return engine;
}

async function pidOf(e: Engine, actor: string): Promise<number> {
  const a = (await e.stats()).actors.find((s) => s.name === actor);
  if (a === undefined) throw new Error(`no actor ${actor}`);
  return a.pid;
}

describe('role flip in child processes', () => {
  it('one process per instance: its prefill and decode actors share the process', async () => {
    const e = await start(1, 1);
    expect(await pidOf(e, 'prefill-1')).toBe(await pidOf(e, 'decode-1'));
    expect(await pidOf(e, 'prefill-0')).not.toBe(await pidOf(e, 'decode-1'));
    expect(await pidOf(e, 'decode-1')).not.toBe(process.pid);
  });

  it('decode -> prefill: running sequences stream to the other decode process and continue there', async () => {
    const e = await start(1, 2);
    const before = await poolsNow(e);
    const prompts = mixedPrompts(8, 211, 80);
    const flip = onceAt(60, () => e.flip({ instance: 2, to: 'prefill' }));
    const outcomes = await streamAll(e, prompts, 64, flip.onTokens);
    const record = await flip.fired();
    expect(record).toMatchObject({ instance: 2, from: 'decode', to: 'prefill' });
    expect(record.handedOver + record.drained).toBeGreaterThan(0);
    await expectReference(MODEL, prompts, 64, outcomes);
    await expectPoolsFree(e, before);
  });

  it('prefill -> decode: the queue goes to the other prefill process; the instance then decodes', async () => {
    const e = await start(2, 1);
    const before = await poolsNow(e);
    const prompts = mixedPrompts(10, 223, 100);
    const flip = e.flip({ instance: 1, to: 'decode' });
    const outcomes = await streamAll(e, prompts, 24, () => undefined);
    await flip;
    await expectReference(MODEL, prompts, 24, outcomes);
    const more = mixedPrompts(6, 227, 40);
    await expectReference(MODEL, more, 24, await streamAll(e, more, 24, () => undefined));
    expect((await e.stats()).actors.find((a) => a.name === 'decode-1')?.tokensProcessed ?? 0).toBeGreaterThan(0);
    await expectPoolsFree(e, before);
  });

  it('a SIGKILL of the flipping process: its requests resume, it restarts, the flip completes, no block kept', async () => {
    const e = await start(1, 2);
    const victim = await pidOf(e, 'decode-2');
    const prompts = mixedPrompts(8, 239, 80);
    const flip = onceAt(50, () => {
      const flipped = e.flip({ instance: 2, to: 'prefill' });
      process.kill(victim, 'SIGKILL');
      return flipped;
    });
    const outcomes = await streamAll(e, prompts, 64, flip.onTokens);
    const record = await flip.fired();
    expect(record.instance).toBe(2);
    await expectReference(MODEL, prompts, 64, outcomes);
    expect(pidAlive(victim)).toBe(false);
    await eventually(async () => {
      const pid = await pidOf(e, 'decode-2');
      return pid !== victim && pidAlive(pid);
    }, { what: 'instance 2 restarted in a new process' });
    const stats = await e.stats();
    expect(stats.scheduler.elastic?.instances.map((i) => i.role)).toEqual(['prefill', 'decode', 'prefill']);
    for (const p of stats.pools) expect(p.stats.used, `pool ${p.name}`).toBe(0);
  });
});
