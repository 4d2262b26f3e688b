import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { TraceLineError } from './bench-errors.js';
import { formatTrace, parseTrace, traceToWorkload, workloadToTrace } from './trace.js';
import { generateWorkload } from './workload.js';

describe('Mooncake traces', () => {
  it('round-trips a generated workload: lengths, ms timing and shared prefixes', () => {
    const w = generateWorkload({ mix: 'multiturn', count: 24, seed: 9 });
    const entries = workloadToTrace(w);
    const text = formatTrace(entries);
    expect(text.split('\n')[0]).toMatch(/^\{"timestamp":0,"input_length":\d+,"output_length":\d+,"hash_ids":\[/);
    const back = traceToWorkload(parseTrace(text));
    expect(back.requests.map((r) => r.promptIds.length)).toEqual(w.requests.map((r) => r.promptIds.length));
    expect(back.requests.map((r) => r.maxTokens)).toEqual(w.requests.map((r) => r.maxTokens));
    expect(back.requests.map((r) => r.arrivalMs)).toEqual(w.requests.map((r) => Math.round(r.arrivalMs)));
    // Turn 1 of conversation 0 (request 4) extends turn 0 (request 0): its replayed prompt shares
    // every full 16-token block of turn 0's prompt.
    const shared = Math.floor(w.requests[0].promptIds.length / 16) * 16;
    expect(shared).toBeGreaterThan(0);
    expect(back.requests[4].promptIds.slice(0, shared)).toEqual(back.requests[0].promptIds.slice(0, shared));
    // Different conversations share nothing.
    expect(back.requests[1].promptIds.slice(0, 16)).not.toEqual(back.requests[0].promptIds.slice(0, 16));
    // And writing the replay again gives the same trace.
    expect(workloadToTrace(back)).toEqual(entries);
  });

  it('replays hash ids as equal blocks, scales lengths and fits the context', () => {
    const w = traceToWorkload(
      parseTrace('{"timestamp": 1000, "input_length": 40, "output_length": 5, "hash_ids": [7, 8]}\n\n{"timestamp": 3000, "input_length": 2000, "output_length": 100, "hash_ids": [7, 9]}\n'),
      { blockTokens: 16, maxContext: 1024 },
    );
    const [a, b] = w.requests;
    expect(a.arrivalMs).toBe(0);
    expect(b.arrivalMs).toBe(2000);
    expect(a.promptIds.slice(0, 16)).toEqual(b.promptIds.slice(0, 16));
    expect(a.promptIds.slice(16, 32)).not.toEqual(b.promptIds.slice(16, 32));
    expect(b.promptIds.length + b.maxTokens).toBe(1024);
    const scaled = traceToWorkload(parseTrace('{"timestamp":0,"input_length":1600,"output_length":160}'), { lengthScale: 1 / 16 });
    expect(scaled.requests[0].promptIds.length).toBe(100);
    expect(scaled.requests[0].maxTokens).toBe(10);
  });

  it.each([
    ['{"timestamp": 0, "input_length": 5, "output_length": 1}\nnot json', 2, null],
    ['[1,2]', 1, null],
    ['{"input_length": 5, "output_length": 1}', 1, 'timestamp'],
    ['{"timestamp": -1, "input_length": 5, "output_length": 1}', 1, 'timestamp'],
    ['{"timestamp": 0, "input_length": 0, "output_length": 1}', 1, 'input_length'],
    ['{"timestamp": 0, "input_length": 5, "output_length": 1.5}', 1, 'output_length'],
    ['\n\n{"timestamp": 0, "input_length": 5, "output_length": 1, "hash_ids": [1, -2]}', 3, 'hash_ids'],
  ])('reports bad lines by number and field: %s', (text, line, field) => {
    try {
      parseTrace(text);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(TraceLineError);
      expect((e as TraceLineError).line).toBe(line);
      expect((e as TraceLineError).field).toBe(field);
      expect((e as TraceLineError).code).toBe('BAD_TRACE_LINE');
      expect((e as Error).message).toContain(`line ${line}`);
    }
  });

  describe('the shipped sample (apps/bench/traces/mooncake-sample.jsonl, written by bench:context --write-trace)', () => {
    const text = readFileSync(new URL('../traces/mooncake-sample.jsonl', import.meta.url), 'utf8');

    it('parses, and replays at 16 tokens per 512-token hash id with shared system prompts and conversation prefixes', () => {
      const entries = parseTrace(text);
      expect(entries.length).toBeGreaterThan(40);
      for (const e of entries) expect(e.hash_ids).toHaveLength(Math.floor(e.input_length / 512));
      const w = traceToWorkload(entries, { blockTokens: 16, traceBlockTokens: 512 });
      expect(w.requests.map((r) => r.promptIds.length)).toEqual(entries.map((e) => Math.min(1024 - r16(e.output_length), r16(e.input_length))));
      // 4 system prompts of 128 tokens = 8 blocks: at most 4 distinct heads across 12 sessions.
      expect(new Set(entries.map((e) => e.hash_ids!.slice(0, 8).join(','))).size).toBeLessThanOrEqual(4);
      // A later turn extends an earlier one: its hash ids start with every id of the earlier prompt.
      const earlier = (i: number): number => entries.findIndex((p, j) => j < i && p.hash_ids!.length > 8 && p.hash_ids!.every((h, k) => entries[i].hash_ids![k] === h));
      const pairs = entries.map((_, i) => [earlier(i), i]).filter(([j]) => j >= 0);
      expect(pairs.length).toBeGreaterThan(10);
      // ... and its replayed prompt starts with the earlier prompt's blocks, token for token.
      for (const [j, i] of pairs) {
        const n = 16 * entries[j].hash_ids!.length;
        expect(w.requests[i].promptIds.slice(0, n)).toEqual(w.requests[j].promptIds.slice(0, n));
      }
    });

    it('a bad line is a TraceLineError naming that line and field', () => {
      const lines = text.trim().split('\n');
      lines[2] = lines[2].replace('"output_length":', '"output_length":-');
      let error: unknown = null;
      try {
        parseTrace(lines.join('\n'));
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(TraceLineError);
      expect(error).toMatchObject({ line: 3, field: 'output_length' });
      expect(String((error as Error).message)).toMatch(/line 3/);
    });
  });
});

/** A trace length scaled from 512-token to 16-token blocks. */
function r16(n: number): number {
  return Math.max(1, Math.round(n / 32));
}
