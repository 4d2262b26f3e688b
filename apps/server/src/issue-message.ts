/**
 * The problem text of a request-body validation failure, in the one style every error message of
 * the server uses: what the field must be, then what it was (`must be an integer, got 2.5`). The
 * caller prefixes the field (`max_tokens: must be at least 1`), as the engine's messages are.
 *
 * Used as zod's per-parse error map: zod's own texts (`Invalid input: expected number, received
 * string`) never reach a client; a schema's own message (unsupported fields, unions) still wins.
 */
import type { z } from 'zod';

type RawIssue = Parameters<z.core.$ZodErrorMap>[0];

const TYPE_NAMES: Record<string, string> = {
  int: 'an integer',
  number: 'a number',
  string: 'a string',
  boolean: 'a boolean',
  object: 'an object',
  array: 'an array',
  null: 'null',
};

/** Zod error map: the problem text of one issue (undefined: zod's own text, never expected here). */
export function describeIssue(issue: RawIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return 'is required';
      return `must be ${TYPE_NAMES[issue.expected] ?? issue.expected}, got ${describeValue(issue.input)}`;
    case 'too_small':
      return bound(issue.origin, 'least', issue.minimum, issue.inclusive !== false, 'greater than');
    case 'too_big':
      return bound(issue.origin, 'most', issue.maximum, issue.inclusive !== false, 'less than');
    case 'invalid_value':
      return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}, got ${describeValue(issue.input)}`;
    case 'invalid_union':
      return `has the wrong type (${describeValue(issue.input)})`;
    case 'unrecognized_keys':
      return 'unknown field';
    default:
      return undefined;
  }
}

function bound(origin: string, word: 'least' | 'most', limit: number | bigint, inclusive: boolean, strict: string): string {
  if (origin === 'array' || origin === 'set') return `must have at ${word} ${limit} ${Number(limit) === 1 ? 'entry' : 'entries'}`;
  if (origin === 'string') return word === 'least' && Number(limit) === 1 ? 'must not be empty' : `must have at ${word} ${limit} characters`;
  return inclusive ? `must be at ${word} ${limit}` : `must be ${strict} ${limit}`;
}

/** A short description of a bad value: numbers and booleans as written, others by type. */
export function describeValue(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  if (typeof value === 'string') return value.length > 40 ? `a string of ${value.length} characters` : JSON.stringify(value);
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : typeof value;
}
