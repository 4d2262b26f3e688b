import { describe, expect, it } from 'vitest';
import { EngineClosedError, InvalidRequestError, OverloadedError, UnavailableError } from '@baton/engine';
import { completionRequestSchema } from './request-schemas.js';
import { formatPath, toApiError } from './openai-error.js';

describe('toApiError', () => {
  it('names the field of a zod failure in the request spelling', () => {
    const parsed = completionRequestSchema.safeParse({ model: 'm', prompt: 'x', max_tokens: -1 });
    const e = toApiError(parsed.error);
    expect(e.status).toBe(400);
    expect(e.param).toBe('max_tokens');
  });

  it('prefers an unknown field over the other issues', () => {
    const parsed = completionRequestSchema.safeParse({ model: 'm', prompt: 1, extra: true });
    expect(toApiError(parsed.error).param).toBe('extra');
  });

  it('maps engine fields to snake_case, chat prompts to messages', () => {
    expect(toApiError(new InvalidRequestError('maxTokens', 'too big')).param).toBe('max_tokens');
    expect(toApiError(new InvalidRequestError('prompt[3]', 'bad id')).param).toBe('prompt[3]');
    expect(toApiError(new InvalidRequestError('prompt', 'too long'), { promptParam: 'messages' }).param).toBe('messages');
  });

  it('gives 429 with Retry-After in whole seconds, 503 when closed', () => {
    const e = toApiError(new OverloadedError({ estimate: 'queue', retryAfterMs: 1200 }));
    expect(e.status).toBe(429);
    expect(e.headers['retry-after']).toBe('2');
    expect(toApiError(new EngineClosedError()).status).toBe(503);
  });

  it('gives 503 unavailable with Retry-After when every actor a request needs is down', () => {
    const e = toApiError(new UnavailableError({ actors: ['decode-0', 'decode-1'], retryAfterMs: 2_000 }));
    expect(e.status).toBe(503);
    expect(e.errorCode).toBe('unavailable');
    expect(e.headers['retry-after']).toBe('2');
  });

  it('hides unknown errors behind a 500', () => {
    const e = toApiError(new TypeError('secret internals'));
    expect(e.status).toBe(500);
    expect(e.message).not.toContain('secret');
  });

  it('formats paths', () => {
    expect(formatPath(['messages', 0, 'content', 1, 'type'])).toBe('messages[0].content[1].type');
  });
});
