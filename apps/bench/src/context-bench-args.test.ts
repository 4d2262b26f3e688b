import { describe, expect, it } from 'vitest';
import { BenchArgumentError } from './bench-errors.js';
import { CONTEXT_DEFAULTS, parseContextArgs } from './context-bench-args.js';

describe('bench:context arguments', () => {
  it('defaults run every configuration on the plain workload', () => {
    expect(parseContextArgs([])).toEqual(CONTEXT_DEFAULTS);
    expect(CONTEXT_DEFAULTS.configs).toEqual(['a', 'b', 'c', 'd']);
    expect(CONTEXT_DEFAULTS.heavyShare).toBe(0);
  });

  it('--configs picks configurations (in the comparison\'s order), --heavy-share / --heavy-scale skew the sessions', () => {
    const a = parseContextArgs(['--configs', 'd,c', '--heavy-share', '0.2', '--heavy-scale', '4.5', '--seed', '3']);
    expect(a).toMatchObject({ configs: ['c', 'd'], heavyShare: 0.2, heavyScale: 4.5, seed: 3 });
  });

  it('refuses bad values naming the argument', () => {
    for (const [argv, pattern] of [
      [['--configs', 'c,e'], /--configs: letters among a,b,c,d/],
      [['--heavy-share', '1.5'], /--heavy-share: must be a non-negative number in \[0, 1\]/],
      [['--heavy-scale', '0.5'], /--heavy-scale: must be a non-negative number >= 1/],
      [['--sessions', '2.5'], /--sessions: must be a positive integer/],
      [['--bogus', '1'], /--bogus: unknown argument/],
    ] as Array<[string[], RegExp]>) {
      expect(() => parseContextArgs(argv), argv.join(' ')).toThrow(BenchArgumentError);
      expect(() => parseContextArgs(argv)).toThrow(pattern);
    }
  });
});
