import { describe, expect, it } from 'vitest';
import { RequestTimer, TimingOrderError, requestMetrics } from './request-timing.js';

describe('RequestTimer and requestMetrics', () => {
  it('derives every metric with the DESIGN.md definitions', () => {
    const t = new RequestTimer({ id: 'r', arrivalMs: 1000, promptTokens: 12 });
    t.prefillStarted(1010);
    t.token(1050); // first token from prefill
    t.kvTransferStarted(1051);
    t.kvTransferEnded(1054);
    t.token(1070);
    t.token(1100);
    t.token(1110);
    t.finish('length', 1111);
    expect(t.metrics()).toEqual({
      id: 'r',
      outputTokens: 4,
      ttftMs: 50,
      tpotMs: 20, // (1110 - 1050) / 3
      itlMs: [20, 30, 10],
      jctMs: 110,
      queueMs: 10,
      kvTransferMs: 3,
      finishReason: 'length',
    });
    expect(t.record().finishMs).toBe(1111);
  });

  it('leaves TPOT null for a one-token output and everything null when no token came', () => {
    const one = new RequestTimer({ id: 'a', arrivalMs: 0, promptTokens: 1 });
    one.prefillStarted(0);
    one.token(7);
    one.finish('stop', 7);
    expect(one.metrics()).toMatchObject({ ttftMs: 7, tpotMs: null, itlMs: [], jctMs: 7, kvTransferMs: null });

    const none = new RequestTimer({ id: 'b', arrivalMs: 5, promptTokens: 1 });
    none.finish('abort', 6);
    expect(none.metrics()).toMatchObject({ outputTokens: 0, ttftMs: null, tpotMs: null, jctMs: null, queueMs: null });
  });

  it('keeps the first prefill start when a preempted request is recomputed', () => {
    const t = new RequestTimer({ id: 'p', arrivalMs: 0, promptTokens: 1 });
    t.prefillStarted(4);
    t.token(9);
    t.prefillStarted(20);
    expect(t.metrics().queueMs).toBe(4);
  });

  it('rejects events out of order or after finish', () => {
    const t = new RequestTimer({ id: 'x', arrivalMs: 100, promptTokens: 1 });
    expect(() => t.token(99)).toThrow(TimingOrderError);
    expect(() => t.kvTransferEnded(120)).toThrow(/ended before it started/);
    t.token(101);
    expect(() => t.token(Number.NaN)).toThrow(TimingOrderError);
    t.finish('length', 102);
    expect(t.finished).toBe(true);
    expect(() => t.token(103)).toThrow(/after the request finished/);
  });

  it('returns copies, not live state', () => {
    const t = new RequestTimer({ id: 'c', arrivalMs: 0, promptTokens: 1 });
    const rec = t.record();
    t.token(1);
    expect(rec.tokenTimesMs).toEqual([]);
    expect(requestMetrics(t.record()).outputTokens).toBe(1);
  });
});
