import { describe, expect, it } from 'vitest';
import { WorkloadError } from './bench-errors.js';
import { generateConversations, nextPrompt } from './conversation-workload.js';

describe('conversation workload', () => {
  it('is seeded: sessions of 3-8 turns, Poisson arrivals in order, every session fitting the context', () => {
    const a = generateConversations({ sessions: 40, seed: 5, sessionRate: 2, maxContext: 1024 });
    expect(generateConversations({ sessions: 40, seed: 5, sessionRate: 2, maxContext: 1024 })).toEqual(a);
    expect(generateConversations({ sessions: 40, seed: 6, sessionRate: 2 })).not.toEqual(a);
    for (const [i, s] of a.sessions.entries()) {
      expect(s.turns.length).toBeGreaterThanOrEqual(3);
      expect(s.turns.length).toBeLessThanOrEqual(8);
      if (i > 0) expect(s.arrivalMs).toBeGreaterThanOrEqual(a.sessions[i - 1].arrivalMs);
      const longest = s.turns.reduce((n, t) => n + t.userIds.length + t.maxTokens, a.systemIds.length);
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
    for (const s of w.sessions) expect(s.turns.reduce((n, t) => n + t.userIds.length + t.maxTokens, w.systemIds.length)).toBeLessThanOrEqual(200);
  });

  it('each turn extends the conversation so far', () => {
    const w = generateConversations({ sessions: 1, seed: 2, sessionRate: 1 });
    const turn = w.sessions[0].turns[0];
    const prompt = nextPrompt(w.systemIds, turn);
    expect(prompt.slice(0, w.systemIds.length)).toEqual(w.systemIds);
    expect(prompt.slice(w.systemIds.length)).toEqual(turn.userIds);
  });

  it('rejects bad options with a typed error', () => {
    expect(() => generateConversations({ sessions: 0, seed: 1, sessionRate: 1 })).toThrow(WorkloadError);
    expect(() => generateConversations({ sessions: 2, seed: 1, sessionRate: 0 })).toThrow(/sessionRate/);
  });
});
