import { describe, expect, it } from 'vitest';
import { admit, type AdmissionEstimates, type AdmissionPolicy } from './admission.js';
import { OverloadedError } from './errors.js';

const policy: AdmissionPolicy = { slo: { ttftMs: 500, tpotMs: 50 }, maxQueuedRequests: 10, maxQueuedPromptTokens: 4096 };
const est = (o: Partial<AdmissionEstimates> = {}): AdmissionEstimates => ({
  ttftMs: 200,
  queueMs: 150,
  tpotMs: 30,
  queuedRequests: 2,
  queuedPromptTokens: 1000,
  ...o,
});

function rejection(d: ReturnType<typeof admit>): OverloadedError {
  if (d.admitted) throw new Error('expected a rejection');
  expect(d.error).toBeInstanceOf(OverloadedError);
  return d.error;
}

describe('admit', () => {
  it('admits within every bound', () => {
    expect(admit({ promptTokens: 100 }, est(), policy)).toEqual({ admitted: true });
  });

  it('rejects on TTFT with the excess as retry-after', () => {
    const e = rejection(admit({ promptTokens: 100 }, est({ ttftMs: 800 }), policy));
    expect(e).toMatchObject({ code: 'OVERLOADED', estimate: 'ttft', retryAfterMs: 300 });
    expect(e.message).toBe('engine overloaded: estimated TTFT 800.0 ms exceeds the SLO 500 ms; retry after 300 ms');
  });

  it('rejects on predicted TPOT, retrying after some decode steps', () => {
    const e = rejection(admit({ promptTokens: 100 }, est({ tpotMs: 60 }), policy));
    expect(e).toMatchObject({ estimate: 'tpot', retryAfterMs: 60 * 32 });
    expect(admit({ promptTokens: 100 }, est({ tpotMs: null }), policy).admitted).toBe(true);
  });

  it('rejects on queue bounds before SLOs, and even without SLOs', () => {
    const noSlo = { ...policy, slo: null };
    expect(rejection(admit({ promptTokens: 1 }, est({ queuedRequests: 10, ttftMs: 9999 }), policy)).estimate).toBe('queue');
    const e = rejection(admit({ promptTokens: 3500 }, est(), noSlo));
    expect(e).toMatchObject({ estimate: 'queue', retryAfterMs: 150 });
    expect(e.message).toContain('1000 + 3500 queued prompt tokens exceed the bound 4096');
    expect(admit({ promptTokens: 10 }, est({ ttftMs: 9999, tpotMs: 999 }), noSlo).admitted).toBe(true);
  });

  it('admits an oversized prompt into an empty queue and floors retry hints', () => {
    expect(admit({ promptTokens: 10_000 }, est({ queuedPromptTokens: 0 }), policy).admitted).toBe(true);
    const e = rejection(admit({ promptTokens: 1 }, est({ ttftMs: 501 }), { ...policy, minRetryAfterMs: 100 }));
    expect(e.retryAfterMs).toBe(100);
  });
});
