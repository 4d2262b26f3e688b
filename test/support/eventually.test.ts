import { describe, expect, it } from 'vitest';
import { eventually, EventuallyTimeoutError } from './eventually.js';

describe('eventually', () => {
  it('returns the first value that passes, probing until then', async () => {
    let calls = 0;
    const value = await eventually(async () => ++calls, { until: (n) => n >= 3, intervalMs: 1 });
    expect(value).toBe(3);
    expect(calls).toBe(3);
  });

  it('treats a truthy value as done by default', async () => {
    let ready = false;
    setTimeout(() => (ready = true), 5);
    await expect(eventually(() => ready, { intervalMs: 1 })).resolves.toBe(true);
  });

  it('throws a typed error naming what was awaited and the last value', async () => {
    let calls = 0;
    const waiting = eventually(() => ({ used: 7, calls: ++calls }), { until: (s) => s.used === 0, timeoutMs: 20, intervalMs: 1, what: 'no KV block in use' });
    await expect(waiting).rejects.toBeInstanceOf(EventuallyTimeoutError);
    await expect(waiting).rejects.toThrow(/no KV block in use: not reached within 20 ms \(last value: \{"used":7,"calls":\d+\}\)/);
  });
});
