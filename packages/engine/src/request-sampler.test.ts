import { describe, expect, it } from 'vitest';
import { createRng, createSampler } from '@baton/model';
import type { WireRequest } from './protocol.js';
import { RequestSampler } from './request-sampler.js';

const request = (over: Partial<WireRequest> = {}): WireRequest => ({
  id: 'r', promptIds: [1], emitted: 0, maxTokens: 6, temperature: 0.9, topK: 0, topP: 1, seed: 42, stopIds: [], arrivalMs: 0, ...over,
});

/** Seeded pseudo-logits rows. */
function rows(n: number, vocab = 32): Float32Array[] {
  const rng = createRng(7);
  return Array.from({ length: n }, () => Float32Array.from({ length: vocab }, () => rng.next() * 4));
}

describe('RequestSampler', () => {
  it('resumed after n tokens draws exactly what one uninterrupted sampler draws (handoff, preemption)', () => {
    const logits = rows(6);
    const reference = createSampler({ temperature: 0.9, topK: 0, topP: 1 }, createRng(42));
    const expected = logits.map((row) => reference(row));
    const got: number[] = [];
    for (let n = 0; n < logits.length; n++) got.push(new RequestSampler(request(), n).next(logits[n]).id);
    expect(got).toEqual(expected);
  });

  it('ends on max tokens and on stop ids', () => {
    const logits = rows(3);
    const s = new RequestSampler(request({ temperature: 0, maxTokens: 2 }));
    expect(s.next(logits[0]).finish).toBeNull();
    expect(s.next(logits[1]).finish).toBe('length');
    const first = new RequestSampler(request({ temperature: 0 })).next(logits[0]).id;
    expect(new RequestSampler(request({ temperature: 0, stopIds: [first] })).next(logits[0])).toEqual({ id: first, finish: 'stop' });
  });
});
