import { describe, expect, it } from 'vitest';
import { backendMemory } from '@baton/model';
import { formatRoofline, measureRoofline } from './roofline.js';

describe('measureRoofline', () => {
  it('times every batch and prompt length, derives the regime, and leaves no tensors behind', async () => {
    const r1 = await measureRoofline({ model: 'baton-tiny', backend: 'cpu', batches: [1, 2], prefillTokens: [8, 16, 4096], reps: 1, contextTokens: 16 });
    const before = backendMemory().numTensors;
    const r = await measureRoofline({ model: 'baton-tiny', backend: 'cpu', batches: [4, 1, 2], prefillTokens: [8, 16], reps: 1, contextTokens: 16 });
    expect(backendMemory().numTensors).toBe(before);
    expect(r1.prefill.map((p) => p.tokens)).toEqual([8, 16]);
    expect(r.decode.map((d) => d.batch)).toEqual([1, 2, 4]);
    for (const d of r.decode) expect(d.stepMs).toBeGreaterThan(0);
    expect(r.decodeRegime).toBeCloseTo(r.decode[2].stepMs / r.decode[0].stepMs);
    expect(r.prefillInSteps).toBeNull();
    const text = formatRoofline([r]);
    expect(text).toContain('baton-tiny on cpu');
    expect(text).toMatch(/regime: step\(32\)\/step\(1\) = \d/);
  }, 120_000);
});
