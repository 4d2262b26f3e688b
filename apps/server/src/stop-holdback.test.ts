import { describe, expect, it } from 'vitest';
import { StopHoldback } from './stop-holdback.js';

describe('StopHoldback', () => {
  it('passes text through when there are no stop strings', () => {
    const h = new StopHoldback([]);
    expect(h.push('ab')).toBe('ab');
    expect(h.finish('abc')).toBe('c');
  });

  it('holds back a possible stop prefix until the next delta settles it', () => {
    const h = new StopHoldback(['END']);
    expect(h.push('hello E')).toBe('hello ');
    expect(h.push('x')).toBe('Ex');
    expect(h.push('E')).toBe('');
    expect(h.push('N')).toBe('');
    expect(h.push('D more')).toBe('');
    expect(h.finish('hello ExE')).toBe('E');
  });

  it('never emits a stop string split over deltas, and the pieces add up to the final text', () => {
    const h = new StopHoldback(['<|end|>', 'zz']);
    const final = 'one two ';
    const out = ['one ', 'two <|', 'en', 'd|> three'].map((d) => h.push(d)).join('') + h.finish(final);
    expect(out).toBe(final);
  });
});
