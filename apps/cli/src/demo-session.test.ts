// Runs the demo session against a real engine (worker threads, baton-tiny on wasm).
import { createEngine, type Engine } from '@baton/engine';
import { describeModel } from '@baton/model';
import { afterEach, describe, expect, it } from 'vitest';
import { runDemoSession, tokenBytesOf, type DemoSnapshot } from './demo-session.js';
import { demoWorkload } from './demo-workload.js';

let engine: Engine | null = null;
afterEach(async () => {
  await engine?.close({ deadlineMs: 0 });
  engine = null;
});

const { tokenizer } = describeModel('baton-tiny');
const encode = (text: string): number[] => tokenizer.encode(text);
const tokenBytes = tokenBytesOf(tokenizer);

describe('demo session', () => {
  it('every frame shows no more tokens than its actors have steps for, and TTFT from the first token on', async () => {
    engine = await createEngine({ mode: 'disaggregated', prefill: 1, decode: 1, model: 'baton-tiny', backend: 'wasm' });
    const frames: DemoSnapshot[] = [];
    const requests = demoWorkload({ requests: 6, maxTokens: 24, contextTokens: 1024 });
    const outcome = await runDemoSession({ engine, requests, encode, tokenBytes, pollMs: 5, signal: new AbortController().signal, onFrame: (s) => frames.push(s) });
    expect(outcome.requests.every((p) => p.state === 'done')).toBe(true);
    const withStats = frames.filter((f) => f.stats !== null);
    expect(withStats.length).toBeGreaterThan(1);
    for (const f of withStats) {
      // The first token comes from prefill; each later one needs a decode step.
      const decodeSteps = f.stats!.actors.filter((a) => a.role === 'decode').reduce((n, a) => n + a.steps, 0);
      for (const p of f.requests) {
        expect(p.ids.length, `${p.request.id} at ${f.elapsedMs.toFixed(0)} ms`).toBeLessThanOrEqual(1 + decodeSteps);
        expect(p.ttftMs === null, `${p.request.id} ttft`).toBe(p.ids.length === 0);
      }
    }
    // Live TTFT shows before the request ends, and the final value is the engine's.
    expect(withStats.some((f) => f.requests.some((p) => p.ttftMs !== null && p.state === 'streaming'))).toBe(true);
    for (const p of outcome.requests) expect(p.ttftMs).toBe(p.result?.metrics.ttftMs);
  });

  it('requests cut off by the signal (Ctrl-C) end as aborted, not failed', async () => {
    engine = await createEngine({ mode: 'colocated', colocated: 1, model: 'baton-tiny', backend: 'wasm' });
    const abort = new AbortController();
    const requests = demoWorkload({ requests: 4, maxTokens: 400, contextTokens: 1024 });
    const outcome = await runDemoSession({
      engine, requests, encode, tokenBytes, pollMs: 5, signal: abort.signal,
      onFrame: (s) => {
        if (s.requests.some((p) => p.ids.length >= 3)) abort.abort();
      },
    });
    expect(outcome.interrupted).toBe(true);
    expect(outcome.requests.filter((p) => p.state === 'failed')).toEqual([]);
    expect(outcome.requests.some((p) => p.state === 'aborted')).toBe(true);
    for (const p of outcome.requests) expect(['done', 'aborted']).toContain(p.state);
  });
});
