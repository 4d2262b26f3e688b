/**
 * OpenAI-style error responses: `{ error: { message, type, param, code } }` with the HTTP status,
 * built from whatever went wrong — a zod validation failure, a typed engine error, or a fastify
 * framework error (invalid JSON, body too large). `param` always names the offending field in the
 * request's own (snake_case) spelling.
 *
 * Invariant: every error a route can raise maps to exactly one ApiError; unknown errors become a
 * 500 `server_error` without leaking a stack.
 */
import { EngineClosedError, EngineError, InvalidRequestError, OverloadedError } from '@baton/engine';
import { ZodError, type z } from 'zod';

/** The body of an error response. */
export interface OpenAiErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

/** An error with everything needed to answer it over HTTP. */
export class ApiError extends Error {
  readonly status: number;
  readonly type: string;
  readonly param: string | null;
  readonly errorCode: string | null;
  /** Extra response headers (Retry-After on 429). */
  readonly headers: Record<string, string>;

  constructor(o: { status: number; message: string; type: string; param?: string | null; code?: string | null; headers?: Record<string, string> }) {
    super(o.message);
    this.name = 'ApiError';
    this.status = o.status;
    this.type = o.type;
    this.param = o.param ?? null;
    this.errorCode = o.code ?? null;
    this.headers = o.headers ?? {};
  }

  /** The JSON body. */
  body(): OpenAiErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.errorCode } };
  }
}

/** A 400 naming `param`. */
export function invalidRequest(param: string | null, message: string, code: string | null = null): ApiError {
  return new ApiError({ status: 400, type: 'invalid_request_error', param, message, code });
}

/** Engine field names (camelCase, engine-side) as the HTTP request spells them. */
const FIELD_NAMES: Record<string, string> = { maxTokens: 'max_tokens', topP: 'top_p', topK: 'top_k' };

/** Options of {@link toApiError}. */
export interface ToApiErrorOptions {
  /** What the engine's `prompt` field is called in this endpoint (`messages` for chat). */
  promptParam?: string;
  /** What the engine's `maxTokens` field is called in this endpoint. */
  maxTokensParam?: string;
}

/** Maps anything thrown while serving a request to an ApiError. */
export function toApiError(error: unknown, o: ToApiErrorOptions = {}): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof ZodError) return fromZod(error);
  if (error instanceof InvalidRequestError) {
    const param = engineFieldToParam(error.field, o);
    return invalidRequest(param, error.message.replace(/\bmaxTokens\b/g, param).replace(/\btopP\b/g, 'top_p'));
  }
  if (error instanceof OverloadedError) {
    const seconds = Math.max(1, Math.ceil(error.retryAfterMs / 1000));
    return new ApiError({
      status: 429, type: 'rate_limit_error', code: 'overloaded', message: error.message, headers: { 'retry-after': String(seconds) },
    });
  }
  if (error instanceof EngineClosedError) return shuttingDown(error.message);
  if (error instanceof EngineError) return new ApiError({ status: 500, type: 'server_error', code: error.code.toLowerCase(), message: error.message });
  return fromFramework(error);
}

/** The 503 answered while the server shuts down. */
export function shuttingDown(message = 'the server is shutting down'): ApiError {
  return new ApiError({ status: 503, type: 'service_unavailable', code: 'shutting_down', message });
}

function engineFieldToParam(field: string, o: ToApiErrorOptions): string {
  const [head, ...rest] = field.split(/(?=\[)/);
  if (head === 'prompt') return (o.promptParam ?? 'prompt') + (o.promptParam === undefined ? rest.join('') : '');
  if (head === 'maxTokens') return o.maxTokensParam ?? 'max_tokens';
  return (FIELD_NAMES[head] ?? head) + rest.join('');
}

/** `['messages', 0, 'role']` → `messages[0].role`. */
export function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((acc, key) => (typeof key === 'number' ? `${acc}[${key}]` : acc === '' ? String(key) : `${acc}.${String(key)}`), '');
}

function fromZod(error: ZodError): ApiError {
  const issue = pickIssue(error.issues);
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0];
    const param = formatPath([...issue.path, key]);
    return invalidRequest(param, `${param}: unknown field`, 'unknown_field');
  }
  // NOTE: an issue at the root (the body is not an object: a number, an array, a string) names the body.
  const param = issue.path.length === 0 ? 'body' : formatPath(issue.path);
  return invalidRequest(param, `${param}: ${issue.message}`);
}

/** NOTE: zod lists unknown keys after the other issues; an unknown key explains the rest, so it wins. */
function pickIssue(issues: readonly z.core.$ZodIssue[]): z.core.$ZodIssue {
  return issues.find((i) => i.code === 'unrecognized_keys') ?? issues[0];
}

function fromFramework(error: unknown): ApiError {
  const e = error as { code?: unknown; statusCode?: unknown; message?: unknown };
  const message = typeof e.message === 'string' ? e.message : String(error);
  switch (e.code) {
    // NOTE: issue 7 asks for 400 (not 413) on an oversized body: it is reported as bad input.
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return invalidRequest('body', `request body is larger than the server's limit: ${message}`, 'body_too_large');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return invalidRequest('body', `request body is not valid JSON: ${message}`, 'invalid_json');
  }
  if (error instanceof SyntaxError) return invalidRequest('body', `request body is not valid JSON: ${message}`, 'invalid_json');
  const status = typeof e.statusCode === 'number' ? e.statusCode : 500;
  if (status >= 400 && status < 500) return new ApiError({ status, type: 'invalid_request_error', message, code: typeof e.code === 'string' ? e.code : null });
  return new ApiError({ status: 500, type: 'server_error', message: 'internal server error' });
}
