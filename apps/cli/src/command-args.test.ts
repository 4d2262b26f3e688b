import { describe, expect, expectTypeOf, it } from 'vitest';
import { joinNegativeValues, parseCommandArgs } from './command-args.js';

const OPTIONS = { 'max-tokens': { type: 'string' }, temperature: { type: 'string' }, json: { type: 'boolean' } } as const;

describe('parseCommandArgs', () => {
  it('takes a negative number as the value of a string flag', () => {
    const v = parseCommandArgs(OPTIONS, ['--max-tokens', '-1', '--temperature', '-0.5', '--json']);
    expect(v).toEqual({ 'max-tokens': '-1', temperature: '-0.5', json: true });
    expectTypeOf(v['max-tokens']).toEqualTypeOf<string | undefined>();
    expect(parseCommandArgs(OPTIONS, ['--temperature', '-.5'])).toEqual({ temperature: '-.5' });
    expect(parseCommandArgs(OPTIONS, ['--temperature=-2'])).toEqual({ temperature: '-2' });
  });

  it('still reports a missing value, an unknown flag and a stray positional', () => {
    expect(() => parseCommandArgs(OPTIONS, ['--max-tokens', '--json'])).toThrow(/--max-tokens/);
    expect(() => parseCommandArgs(OPTIONS, ['--max-tokens'])).toThrow(/--max-tokens/);
    expect(() => parseCommandArgs(OPTIONS, ['--bogus'])).toThrow(/--bogus/);
    expect(() => parseCommandArgs(OPTIONS, ['-1'])).toThrow();
  });

  it('leaves boolean flags and non-numbers alone', () => {
    expect(joinNegativeValues(['--json', '-1'], OPTIONS)).toEqual(['--json', '-1']);
    expect(joinNegativeValues(['--temperature', '-x'], OPTIONS)).toEqual(['--temperature', '-x']);
    expect(joinNegativeValues(['--temperature', '-1', '--max-tokens', '3'], OPTIONS)).toEqual(['--temperature=-1', '--max-tokens', '3']);
  });
});
