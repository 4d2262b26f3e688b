/**
 * Strict flag parsing for every baton command: node:util parseArgs with no positionals, where a
 * flag's value may be a negative number (`--temperature -1`). Invariant: a value that starts with
 * `-` is taken only when it is a number, so `--max-tokens --json` still reports the missing value;
 * range checks stay with the commands (parseNumber), which name the flag and the accepted range.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** parseArgs option specs (`{ name: { type: 'string' | 'boolean' } }`). */
export type OptionsConfig = NonNullable<ParseArgsConfig['options']>;

/** The values parseArgs returns for `O` (strict, no positionals). */
export type ParsedValues<O extends OptionsConfig> = ReturnType<typeof parseArgs<{ args: string[]; options: O; strict: true; allowPositionals: false }>>['values'];

const NEGATIVE_NUMBER = /^-(\d|\.\d|Infinity\b)/;

/**
 * Rewrites `--flag -1` to `--flag=-1` for string-valued flags, so parseArgs reads the negative
 * number as the flag's value instead of calling the flag ambiguous.
 */
export function joinNegativeValues(args: readonly string[], options: OptionsConfig): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const next = args[i + 1];
    const name = arg.startsWith('--') && !arg.includes('=') ? arg.slice(2) : null;
    if (name !== null && options[name]?.type === 'string' && next !== undefined && NEGATIVE_NUMBER.test(next)) {
      out.push(`${arg}=${next}`);
      i += 1;
    } else {
      out.push(arg);
    }
  }
  return out;
}

/** Parses `args` against `options` (strict, no positionals); negative numbers are values. */
export function parseCommandArgs<O extends OptionsConfig>(options: O, args: readonly string[]): ParsedValues<O> {
  return parseArgs({ args: joinNegativeValues(args, options), options, strict: true, allowPositionals: false }).values;
}
