import { describe, expect, it } from 'vitest';
import { decodeCapacity } from './elastic-calibration.js';

describe('decodeCapacity', () => {
  it('the full batch when it meets the target, otherwise the batch that just meets it (linear between the measurements)', () => {
    expect(decodeCapacity(10, { batch: 32, ms: 14 }, 15)).toEqual({ tokensPerS: (32 / 14) * 1000, batch: 32 });
    const c = decodeCapacity(10, { batch: 32, ms: 20 }, 15);
    expect(c.batch).toBeCloseTo(24);
    expect(c.tokensPerS).toBeCloseTo((24 / 15) * 1000);
  });

  it('refuses measurements that are not positive, naming them', () => {
    expect(() => decodeCapacity(0, { batch: 32, ms: 20 }, 15)).toThrow(/batch 16: 0 ms/);
  });
});
