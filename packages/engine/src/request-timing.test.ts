import { describe, expect, it } from 'vitest';
import { requestMetrics, type RequestTimingRecord } from './request-timing.js';

function record(r: Partial<RequestTimingRecord> & Pick<RequestTimingRecord, 'arrivalMs' | 'tokenTimesMs'>): RequestTimingRecord {
  return { id: 'r', promptTokens: 12, prefillStartMs: null, kvTransferStartMs: null, kvTransferEndMs: null, finishMs: null, finishReason: null, ...r };
}

describe('requestMetrics', () => {
  it('derives every metric as docs/metrics.md defines it', () => {
    const r = record({
      arrivalMs: 1000, prefillStartMs: 1010, tokenTimesMs: [1050, 1070, 1100, 1110],
      kvTransferStartMs: 1051, kvTransferEndMs: 1054, finishMs: 1111, finishReason: 'length',
    });
    expect(requestMetrics(r)).toEqual({
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
  });

  it('leaves TPOT null for a one-token output and everything null when no token came', () => {
    const one = record({ arrivalMs: 0, prefillStartMs: 0, tokenTimesMs: [7], finishMs: 7, finishReason: 'stop' });
    expect(requestMetrics(one)).toMatchObject({ ttftMs: 7, tpotMs: null, itlMs: [], jctMs: 7, kvTransferMs: null });
    const none = record({ arrivalMs: 5, tokenTimesMs: [], finishMs: 6, finishReason: 'abort' });
    expect(requestMetrics(none)).toMatchObject({ outputTokens: 0, ttftMs: null, tpotMs: null, jctMs: null, queueMs: null });
  });

  it('leaves KV transfer time null until the transfer ended', () => {
    expect(requestMetrics(record({ arrivalMs: 0, tokenTimesMs: [3], kvTransferStartMs: 4 })).kvTransferMs).toBeNull();
  });
});
