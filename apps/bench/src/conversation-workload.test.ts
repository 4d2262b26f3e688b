import { describe, expect, it } from 'vitest';
import { WorkloadError } from './bench-errors.js';
import { conversationTrace, generateConversations, nextPrompt } from './conversation-workload.js';
import { parseTrace, traceToWorkload, formatTrace } from './trace.js';

describe('conversation workload', () => {
  it('is seeded: sessions of 3-8 turns, Poisson arrivals in order, every session fitting the context', () => {
    const a = generateConversations({ sessions: 40, seed: 5, sessionRate: 2, maxContext: 1024 });
    expect(generateConversations({ sessions: 40, seed: 5, sessionRate: 2, maxContext: 1024 })).toEqual(a);
    expect(generateConversations({ sessions: 40, seed: 6, sessionRate: 2 })).not.toEqual(a);
    for (const [i, s] of a.sessions.entries()) {
      expect(s.turns.length).toBeGreaterThanOrEqual(3);
      expect(s.turns.length).toBeLessThanOrEqual(8);
      if (i > 0) expect(s.arrivalMs).toBeGreaterThanOrEqual(a.sessions[i - 1].arrivalMs);
      const longest = s.turns.reduce((n, t) => n + t.userIds.length + t.maxTokens, s.systemIds.length);
      expect(longest).toBeLessThanOrEqual(1024);
      for (const t of s.turns) expect(t.thinkMs).toBeGreaterThanOrEqual(0);
    }
    // Mean gap between session arrivals near 1 / rate (500 ms).
    const span = a.sessions.at(-1)!.arrivalMs / (a.sessions.length - 1);
    expect(span).toBeGreaterThan(250);
    expect(span).toBeLessThan(1000);
  });

  it('a short context ends sessions early rather than overflowing it', () => {
    const w = generateConversations({ sessions: 10, seed: 1, sessionRate: 1, maxContext: 200 });
    for (const s of w.sessions) expect(s.turns.reduce((n, t) => n + t.userIds.length + t.maxTokens, s.systemIds.length)).toBeLessThanOrEqual(200);
  });

  it('each turn extends the conversation so far', () => {
    const w = generateConversations({ sessions: 1, seed: 2, sessionRate: 1 });
    const [session] = w.sessions;
    const turn = session.turns[0];
    const prompt = nextPrompt(session.systemIds, turn);
    expect(prompt.slice(0, session.systemIds.length)).toEqual(session.systemIds);
    expect(prompt.slice(session.systemIds.length)).toEqual(turn.userIds);
  });

  it('sessions share a few system prompts', () => {
    const w = generateConversations({ sessions: 30, seed: 3, sessionRate: 1, systemPrompts: 3, systemTokens: 64 });
    expect(w.systems).toHaveLength(3);
    const used = new Set(w.sessions.map((s) => w.systems.indexOf(s.systemIds)));
    expect([...used].every((i) => i >= 0)).toBe(true);
    expect(used.size).toBe(3);
    expect(() => generateConversations({ sessions: 2, seed: 1, sessionRate: 1, systemPrompts: 0 })).toThrow(/systemPrompts/);
  });

  it('as a Mooncake-format trace: 512-token hash ids whose replay at 16 tokens keeps lengths and prefix sharing', () => {
    const w = generateConversations({ sessions: 4, seed: 4, sessionRate: 2, systemPrompts: 2, systemTokens: 64 });
    const entries = parseTrace(formatTrace(conversationTrace(w, { blockTokens: 16, traceBlockTokens: 512 })));
    expect(entries).toHaveLength(w.sessions.reduce((n, s) => n + s.turns.length, 0));
    for (let i = 1; i < entries.length; i++) expect(entries[i].timestamp).toBeGreaterThanOrEqual(entries[i - 1].timestamp);
    for (const e of entries) expect(e.hash_ids).toHaveLength(Math.floor(e.input_length / 512));
    const replay = traceToWorkload(entries, { blockTokens: 16, traceBlockTokens: 512 });
    const lengths = w.sessions.flatMap((s) => {
      let n = s.systemIds.length;
      return s.turns.map((t) => {
        const prompt = n + t.userIds.length;
        n = prompt + t.maxTokens;
        return prompt;
      });
    });
    const sorted = (xs: number[]): number[] => [...xs].sort((a, b) => a - b);
    expect(sorted(replay.requests.map((r) => r.promptIds.length))).toEqual(sorted(lengths));
    // Every system prompt's 4 blocks are one chain of hash ids, shared by every session that starts with it.
    const heads = new Set(entries.map((e) => e.hash_ids!.slice(0, 4).join(',')));
    expect(heads.size).toBeLessThanOrEqual(2);
  });

  it('heavy sessions: a share of the sessions send k-times longer messages; the rest, and share 0, are unchanged', () => {
    const base = generateConversations({ sessions: 40, seed: 8, sessionRate: 2, systemTokens: 32 });
    expect(generateConversations({ sessions: 40, seed: 8, sessionRate: 2, systemTokens: 32, heavy: { share: 0, scale: 4 } })).toEqual(base);
    const skewed = generateConversations({ sessions: 40, seed: 8, sessionRate: 2, systemTokens: 32, heavy: { share: 0.25, scale: 4 } });
    const longest = (w: typeof base) => w.sessions.map((s) => Math.max(...s.turns.map((t) => t.userIds.length)));
    const heavy = longest(skewed).filter((n, i) => n > longest(base)[i]).length;
    expect(heavy, 'sessions with longer messages').toBeGreaterThan(3);
    expect(heavy).toBeLessThan(20);
    expect(Math.max(...longest(skewed))).toBeGreaterThan(72);
    for (const s of skewed.sessions) expect(s.turns.reduce((n, t) => n + t.userIds.length + t.maxTokens, s.systemIds.length)).toBeLessThanOrEqual(1024);
    expect(skewed.sessions.map((s) => s.arrivalMs)).toEqual(base.sessions.map((s) => s.arrivalMs));
  });

  it('rejects bad options with a typed error', () => {
    expect(() => generateConversations({ sessions: 0, seed: 1, sessionRate: 1 })).toThrow(WorkloadError);
    expect(() => generateConversations({ sessions: 2, seed: 1, sessionRate: 0 })).toThrow(/sessionRate/);
    expect(() => generateConversations({ sessions: 2, seed: 1, sessionRate: 1, heavy: { share: 2, scale: 4 } })).toThrow(/heavy.share/);
    expect(() => generateConversations({ sessions: 2, seed: 1, sessionRate: 1, heavy: { share: 0.5, scale: 0.5 } })).toThrow(/heavy.scale/);
  });
});
