/**
 * OpenAI-style error responses: `{ error: { message, type, param, code } }` with the HTTP status,
 * built from whatever went wrong — a zod validation failure, a typed engine error, or a fastify
 * framework error (invalid JSON, body too large, wrong content type). `param` always names the
 * offending field in the request's own (snake_case) spelling.
 *
 * Invariants: every error a route can raise maps to exactly one ApiError; unknown errors become a
 * 500 `server_error` without leaking a stack; framework-internal codes (`FST_ERR_...`) never reach
 * a client; a message about a field reads `<param>: <problem>` whichever layer found the problem.
 */
import { EngineClosedError, EngineError, InvalidRequestError, OverloadedError, UnavailableError } from '@baton/engine';
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
    return invalidRequest(param, `${param}: ${engineProblem(error, param)}`);
  }
  if (error instanceof OverloadedError) {
    const seconds = Math.max(1, Math.ceil(error.retryAfterMs / 1000));
    return new ApiError({
      status: 429, type: 'rate_limit_error', code: 'overloaded', message: error.message, headers: { 'retry-after': String(seconds) },
    });
  }
  if (error instanceof UnavailableError) {
    const seconds = Math.max(1, Math.ceil(error.retryAfterMs / 1000));
    return new ApiError({
      status: 503, type: 'service_unavailable', code: 'unavailable', message: error.message, headers: { 'retry-after': String(seconds) },
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

/**
 * The problem part of an engine message (`invalid request field "topP": must be ...`), with engine
 * field names in the request's spelling.
 */
function engineProblem(error: InvalidRequestError, param: string): string {
  const prefix = `invalid request field "${error.field}": `;
  const problem = error.message.startsWith(prefix) ? error.message.slice(prefix.length) : error.message;
  return problem.replace(/\bmaxTokens\b/g, param).replace(/\b(topP|topK)\b/g, (name) => FIELD_NAMES[name]);
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
  // NOTE: the routes parse with describeIssue as zod's error map, so issue.message is already a problem text.
  // NOTE: an issue at the root (the body is not an object: a number, an array, a string) names the body.
  const param = issue.path.length === 0 ? 'body' : formatPath(issue.path);
  return invalidRequest(param, `${param}: ${issue.message}`);
}

/** NOTE: zod lists unknown keys after the other issues; an unknown key explains the rest, so it wins. */
function pickIssue(issues: readonly z.core.$ZodIssue[]): z.core.$ZodIssue {
  return issues.find((i) => i.code === 'unrecognized_keys') ?? issues[0];
}

/** Fastify's body errors by code, as the client should read them. */
const FRAMEWORK_ERRORS: Record<string, (message: string) => ApiError> = {
  // NOTE: an oversized body is reported as bad input (400 naming the body), like invalid JSON.
  FST_ERR_CTP_BODY_TOO_LARGE: () => invalidRequest('body', "body: is larger than the server's limit", 'body_too_large'),
  FST_ERR_CTP_INVALID_JSON_BODY: (m) => invalidRequest('body', `body: is not valid JSON (${m})`, 'invalid_json'),
  FST_ERR_CTP_EMPTY_JSON_BODY: () => invalidRequest('body', 'body: is empty; send a JSON object', 'invalid_json'),
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: () => invalidRequest('body', 'body: its size does not match the Content-Length header', 'invalid_content_length'),
  FST_ERR_CTP_INVALID_MEDIA_TYPE: () => unsupportedMediaType(),
  FST_ERR_CTP_INVALID_TYPE: () => unsupportedMediaType(),
  FST_ERR_CTP_EMPTY_TYPE: () => unsupportedMediaType(),
};

/** The 415 for a body that is not declared as JSON (`curl -d` sends form encoding). */
export function unsupportedMediaType(): ApiError {
  return new ApiError({
    status: 415, type: 'invalid_request_error', param: 'body', code: 'unsupported_media_type',
    message: 'body: send the request body as JSON with the header Content-Type: application/json',
  });
}

function fromFramework(error: unknown): ApiError {
  const e = error as { code?: unknown; statusCode?: unknown; message?: unknown };
  const message = typeof e.message === 'string' ? e.message : String(error);
  const known = typeof e.code === 'string' ? FRAMEWORK_ERRORS[e.code] : undefined;
  if (known !== undefined) return known(message);
  if (error instanceof SyntaxError) return FRAMEWORK_ERRORS.FST_ERR_CTP_INVALID_JSON_BODY(message);
  const status = typeof e.statusCode === 'number' ? e.statusCode : 500;
  if (status >= 400 && status < 500) return new ApiError({ status, type: 'invalid_request_error', message: lowerFirst(message), code: null });
  return new ApiError({ status: 500, type: 'server_error', message: 'internal server error' });
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}
