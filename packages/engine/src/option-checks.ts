/**
 * Validators shared by option resolvers: each returns the value typed, or throws
 * InvalidOptionsError naming the option by its dotted path.
 */
import { InvalidOptionsError } from './errors.js';

export function record(value: unknown, name: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidOptionsError(name, `must be an object, got ${value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value}`);
  }
  return value as Record<string, unknown>;
}

export function rejectUnknown(o: Record<string, unknown>, known: readonly string[], prefix: string): void {
  for (const key of Object.keys(o)) {
    if (!known.includes(key)) throw new InvalidOptionsError(`${prefix}${key}`, `unknown option; known: ${known.join(', ')}`);
  }
}

export function posInt(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new InvalidOptionsError(name, `must be a positive integer, got ${String(value)}`);
  }
  return value;
}

export function posNumber(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new InvalidOptionsError(name, `must be a positive finite number, got ${String(value)}`);
  }
  return value;
}

export function nonEmptyString(value: unknown, name: string): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new InvalidOptionsError(name, `must be a non-empty string, got ${typeof value === 'string' ? '""' : String(value)}`);
  }
  return value;
}

export function oneOf<T extends string>(value: unknown, allowed: readonly T[], name: string): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new InvalidOptionsError(name, `must be one of ${allowed.join(' | ')}, got ${String(value)}`);
  }
  return value as T;
}

/** A non-negative integer. */
export function nonNegInt(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new InvalidOptionsError(name, `must be an integer >= 0, got ${String(value)}`);
  }
  return value;
}
