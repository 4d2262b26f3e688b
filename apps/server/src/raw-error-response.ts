/**
 * Error responses written straight to a socket, for the failures that happen before fastify has
 * a request to answer: a malformed request (Node's HTTP parser rejected it), headers too large,
 * a request that did not arrive in time, a connection over the cap, a CONNECT or an Expect the
 * server does not support. They carry the same OpenAI error body as every other response.
 *
 * Invariant: a raw response always closes the connection (`Connection: close`, then end): after
 * a parse error the rest of the byte stream cannot be trusted.
 */
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { ApiError } from './openai-error.js';

/** What a parser or socket error passed to Node's `clientError` event carries. */
export interface ClientError extends Error {
  code?: string;
  /** llhttp's explanation (`Duplicate Content-Length`), when the parser rejected the bytes. */
  reason?: string;
}

/** Writes `error` as a complete HTTP/1.1 response and ends the connection. */
export function writeRawError(socket: Duplex, error: ApiError): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = JSON.stringify(error.body());
  const headers: Record<string, string> = {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(body)),
    connection: 'close',
    ...error.headers,
  };
  const head = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  // NOTE: destroy once flushed: a client that never closes its side must not keep the descriptor.
  socket.end(`HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? 'Error'}\r\n${head}\r\n${body}`, () => socket.destroy());
}

/** The response to a `clientError`; null when there is no one left to answer (reset, broken pipe). */
export function clientErrorResponse(error: ClientError, timeouts: { headersTimeoutMs: number; bodyTimeoutMs: number }): ApiError | null {
  switch (error.code) {
    case 'ECONNRESET':
    case 'EPIPE':
      return null;
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new ApiError({
        status: 408, type: 'invalid_request_error', code: 'request_timeout',
        message: `request: did not arrive in time (headers are allowed ${timeouts.headersTimeoutMs} ms, the whole request ${timeouts.bodyTimeoutMs} ms)`,
      });
    case 'HPE_HEADER_OVERFLOW':
      return new ApiError({
        status: 431, type: 'invalid_request_error', code: 'headers_too_large', param: 'headers',
        message: "headers: are larger than the server's limit",
      });
  }
  const reason = error.reason ?? error.message;
  return new ApiError({
    status: 400, type: 'invalid_request_error', code: 'malformed_request',
    message: `request: is not valid HTTP/1.1 (the parser says: ${reason})`,
  });
}
