/**
 * CliError: a bad command-line argument or a failed command; main prints its one-line message
 * and exits non-zero. Helpers here parse and validate flag values, naming the flag on failure.
 */

/** A command-line failure with a one-line message naming the argument. */
export class CliError extends Error {
  readonly code = 'CLI_ARGUMENT';
  constructor(message: string) {
    super(message);
    this.name = 'CliError';
  }
}

/** Parses a comma-separated list of non-negative integer ids (`--ids 3,17,42`). */
export function parseIds(value: string, flag: string): number[] {
  const parts = value.split(',').map((p) => p.trim());
  if (parts.length === 0 || parts.some((p) => !/^\d+$/.test(p))) {
    throw new CliError(`${flag}: expected comma-separated non-negative integers, got "${value}"`);
  }
  return parts.map(Number);
}

/**
 * Parses a number flag with bounds; `integer` requires an integer. `min: Number.MIN_VALUE` means
 * "positive" and is written as an open bound at 0 (`(0, 1]`, `> 0`).
 */
export function parseNumber(value: string | undefined, flag: string, o: { min: number; max?: number; integer?: boolean; fallback: number }): number {
  if (value === undefined) return o.fallback;
  const n = Number(value);
  const ok = value.trim() !== '' && Number.isFinite(n) && n >= o.min && (o.max === undefined || n <= o.max) && (!o.integer || Number.isInteger(n));
  if (!ok) throw new CliError(`${flag}: expected ${o.integer ? 'an integer' : 'a number'} ${rangeText(o.min, o.max)}, got "${value}"`);
  return n;
}

function rangeText(min: number, max: number | undefined): string {
  // NOTE: Number.MIN_VALUE is the smallest positive double, so n >= MIN_VALUE is exactly n > 0.
  const open = min === Number.MIN_VALUE;
  if (max === undefined) return open ? '> 0' : `>= ${min}`;
  return open ? `in (0, ${max}]` : `in [${min}, ${max}]`;
}
