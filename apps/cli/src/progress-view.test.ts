import type { EngineStats, ServingActorStats } from '@baton/engine';
import { describe, expect, it } from 'vitest';
import type { DemoSnapshot, RequestProgress } from './demo-session.js';
import { demoWorkload } from './demo-workload.js';
import { LiveDisplay } from './live-display.js';
import { renderLiveFrame, renderPlainTick, renderRequestEnd } from './progress-view.js';

// NOTE: asserted rather than annotated, so fields the views do not read may come and go.
const actor = (name: string, role: ServingActorStats['role']): ServingActorStats => ({
  name, role, activity: role === 'prefill' ? 'prefilling 312 tokens' : 'decoding 3 seq', queueLength: 1, running: 3, kvBlocksUsed: 12,
  utilization: 0.5, steps: 40, meanBatchSize: 2.5, maxBatchSize: 4, tokensProcessed: 99, preemptions: 0, backend: 'wasm', tensors: 34,
  ownPool: null, pid: 1, tiers: null, memory: null,
}) as ServingActorStats;

function snapshot(): DemoSnapshot {
  const requests: RequestProgress[] = demoWorkload({ requests: 3, maxTokens: 8, contextTokens: 1024 }).map((request, i) => ({
    request, promptTokens: 10 + i, state: i === 0 ? 'streaming' : 'waiting', ids: i === 0 ? [0x1b, 0x5b, 0x32, 0x4a, 0x41, 0x07] : [],
    bytes: i === 0 ? [0x1b, 0x5b, 0x32, 0x4a, 0x41, 0x07] : [],
    ttftMs: i === 0 ? 42.4 : null, result: null, error: null,
  }));
  const stats = {
    actors: [actor('prefill-0', 'prefill'), actor('decode-0', 'decode')],
    pool: { total: 1024, free: 1000, used: 24, cached: 0, indexed: 0, hits: 0, misses: 0, evictions: 0 },
  } as unknown as EngineStats;
  return { elapsedMs: 1234, requests, stats };
}

const CONTROL = /[\x00-\x1f\x7f]/;

describe('progress views', () => {
  it('live frame: one row per actor and per request, escaped text, no line wider than the terminal', () => {
    const lines = renderLiveFrame(snapshot(), 100);
    expect(lines.some((l) => l.startsWith('prefill-0') && l.includes('prefilling 312 tokens'))).toBe(true);
    expect(lines.some((l) => l.startsWith('decode-0'))).toBe(true);
    expect(lines.filter((l) => / r0\d /.test(l))).toHaveLength(3);
    expect(lines.join('\n')).toContain('\\x1b[2JA\\x07');
    for (const l of lines) {
      expect(l.length).toBeLessThanOrEqual(100);
      expect(l).not.toMatch(CONTROL);
    }
  });

  it('live frame: TTFT shows as soon as the first token arrived, before the request ends', () => {
    const row = renderLiveFrame(snapshot(), 120).find((l) => l.includes(' r00 '));
    expect(row).toMatch(/ 42 /);
  });

  it('plain tick: a headline, one line per actor, and tokens so far per request', () => {
    const lines = renderPlainTick(snapshot());
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/^\[\s+1\.2s\] requests 0\/3 done, 1 arrived · 6 tokens · kv 24\/1024/);
    expect(lines[3]).toMatch(/tokens r00:6 r01:0 r02:0$/);
    const end = renderRequestEnd(snapshot().requests[0], snapshot());
    expect(end).toContain('"\\x1b[2JA\\x07"');
    expect(end).not.toMatch(CONTROL);
  });

  it('LiveDisplay redraws in place: moves up by the previous height and clears', () => {
    const writes: string[] = [];
    const d = new LiveDisplay({ write: (t) => writes.push(t), columns: 80 });
    d.redraw(['a', 'b']);
    d.redraw(['c']);
    d.close();
    expect(writes).toEqual(['\x1b[?25l\r\x1b[Ja\nb\n', '\x1b[2F\x1b[Jc\n', '\x1b[?25h']);
  });

  it('an aborted request is labelled aborted, not failed, in every view', () => {
    const s = snapshot();
    const aborted: RequestProgress = { ...s.requests[0], state: 'aborted' };
    const after: DemoSnapshot = { ...s, requests: [aborted, ...s.requests.slice(1)] };
    expect(renderRequestEnd(aborted, after)).toMatch(/ r00 aborted: 6 tokens/);
    expect(renderPlainTick(after)[0]).toMatch(/requests 1\/3 done \(1 aborted\)/);
    expect(renderPlainTick(after)[3]).toMatch(/r00:6⊘/);
    expect(renderLiveFrame(after, 120).join('\n')).not.toMatch(/failed|✗/);
  });
});

