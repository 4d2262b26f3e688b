import { describe, expect, it } from 'vitest';
import { deserializeError, serializeError } from './error-codec.js';
import { ActorCrashedError, AskTimeoutError } from './errors.js';

describe('error codec', () => {
  it('rebuilds runtime errors by code, with fields and cause chain, through structuredClone', () => {
    const original = new ActorCrashedError('worker-a', new TypeError('bad state'));
    const copy = deserializeError(structuredClone(serializeError(original)));
    expect(copy).toBeInstanceOf(ActorCrashedError);
    expect(copy.message).toBe(original.message);
    expect(copy).toMatchObject({ code: 'ACTOR_CRASHED', actor: 'worker-a' });
    expect((copy.cause as Error).message).toBe('bad state');
    expect((copy.cause as Error).name).toBe('TypeError');
  });

  it('keeps primitive fields and handles thrown non-errors', () => {
    const copy = deserializeError(serializeError(new AskTimeoutError('a', 'get', 50)));
    expect(copy).toBeInstanceOf(AskTimeoutError);
    expect(copy).toMatchObject({ timeoutMs: 50, messageType: 'get' });
    expect(deserializeError(serializeError('just a string')).message).toBe('just a string');
  });
});
