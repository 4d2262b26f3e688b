/**
 * Colocated routing counts what it routed: requests that arrive one after another while the
 * colocated actors are busy (their load reports are throttled, sent after steps and so miss the
 * submits still in their mailboxes) are spread evenly, because the scheduler weighs each actor by
 * its own ledger of requests routed there and not finished, not by the actor's last report.
 * Every stream keeps its reference tokens.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '@baton/engine';
import { mixedPrompts, referenceIds } from '../support/reference.js';

let engine: Engine | null = null;
afterEach(async () => {
  await engine?.close({ deadlineMs: 0 });
  engine = null;
});

const ACTORS = 2;
const REQUESTS = 8;
const MAX_TOKENS = 300;

describe('colocated routing', () => {
  it('spreads requests that arrive while the actors are busy evenly over them, by the ledger of outstanding requests', async () => {
    engine = await createEngine({ model: 'baton-tiny', backend: 'wasm', mode: 'colocated', colocated: ACTORS });
    const e = engine;
    const prompts = mixedPrompts(REQUESTS, 11, 40).map((p) => [...p, ...p, ...p]);
    let started = 0;
    let allStarted: () => void = () => undefined;
    const everyFirstToken = new Promise<void>((resolve) => (allStarted = resolve));
    const runs: Array<Promise<number[]>> = [];
    for (const prompt of prompts) {
      const g = e.generate({ prompt, maxTokens: MAX_TOKENS });
      runs.push((async () => {
        let first = true;
        const ids: number[] = [];
        for await (const ev of g) {
          if (ev.type !== 'token') continue;
          ids.push(ev.id);
          if (first) {
            first = false;
            started += 1;
            if (started === REQUESTS) allStarted();
          }
        }
        return ids;
      })());
      // NOTE: a pause between arrivals lets the actors step (and report) in between.
      await new Promise((r) => setTimeout(r, 3));
    }
    await everyFirstToken;
    const serving = (await e.stats()).actors.filter((a) => a.role === 'colocated');
    expect(serving).toHaveLength(ACTORS);
    // NOTE: MAX_TOKENS keeps every stream running until all have their first token, so each actor holds what it was given.
    expect(serving.map((a) => a.running + a.queueLength)).toEqual(Array.from({ length: ACTORS }, () => REQUESTS / ACTORS));
    const outputs = await Promise.all(runs);
    for (const [i, ids] of outputs.entries()) expect(ids, `request ${i}`).toEqual(await referenceIds('baton-tiny', prompts[i], MAX_TOKENS));
    expect((await e.stats()).pool.used).toBe(0);
  });
});
