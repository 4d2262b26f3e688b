import { describe, expect, it } from 'vitest';
import { CliError, parseIds, parseNumber } from './cli-error.js';

describe('flag values', () => {
  it('names the flag and the range, open at 0 for "positive"', () => {
    expect(() => parseNumber('2', '--top-p', { min: Number.MIN_VALUE, max: 1, fallback: 1 })).toThrow('--top-p: expected a number in (0, 1], got "2"');
    expect(() => parseNumber('0', '--top-p', { min: Number.MIN_VALUE, max: 1, fallback: 1 })).toThrow(/\(0, 1\]/);
    expect(() => parseNumber('0', '--slo', { min: Number.MIN_VALUE, fallback: 1 })).toThrow('--slo: expected a number > 0, got "0"');
    expect(() => parseNumber('-1', '--max-tokens', { min: 0, integer: true, fallback: 0 })).toThrow('--max-tokens: expected an integer >= 0, got "-1"');
    expect(() => parseNumber('-1', '--temperature', { min: 0, fallback: 0 })).toThrow(CliError);
    expect(() => parseNumber('1.5', '--seed', { min: 0, max: 9, integer: true, fallback: 0 })).toThrow('--seed: expected an integer in [0, 9], got "1.5"');
  });

  it('accepts values in range and falls back when absent', () => {
    expect(parseNumber('1', '--top-p', { min: Number.MIN_VALUE, max: 1, fallback: 1 })).toBe(1);
    expect(parseNumber('1e-9', '--top-p', { min: Number.MIN_VALUE, max: 1, fallback: 1 })).toBe(1e-9);
    expect(parseNumber(undefined, '--top-p', { min: Number.MIN_VALUE, max: 1, fallback: 0.5 })).toBe(0.5);
    expect(parseIds('3, 17,42', '--ids')).toEqual([3, 17, 42]);
    expect(() => parseIds('3,-1', '--ids')).toThrow(/--ids/);
  });
});
