/**
 * SseWriter: Server-Sent Events on a raw Node response, in the OpenAI format — `data: {json}`
 * events, then `data: [DONE]`. Writes after the client went away are dropped silently.
 *
 * NOTE: tokens are tiny and arrive at decode speed, so no backpressure handling is needed: the
 * socket buffer never grows by more than a request's own output.
 */
import type { ServerResponse } from 'node:http';

/** Writes one SSE stream. */
export class SseWriter {
  readonly #res: ServerResponse;

  constructor(res: ServerResponse) {
    this.#res = res;
  }

  /**
   * Sends the 200 status and event-stream headers.
   * NOTE: no Connection header of its own: Node answers the client's (`Connection: close` closes
   * the socket after `[DONE]`; HTTP/1.1 otherwise keeps it alive).
   */
  open(): void {
    this.#res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'x-accel-buffering': 'no',
    });
  }

  /** One `data:` event with a JSON payload. */
  send(payload: unknown): void {
    if (this.#writable()) this.#res.write(`data: ${JSON.stringify(payload)}\n\n`);
  }

  /** `data: [DONE]` and the end of the response. */
  done(): void {
    if (this.#writable()) this.#res.write('data: [DONE]\n\n');
    if (!this.#res.writableEnded) this.#res.end();
  }

  #writable(): boolean {
    return !this.#res.writableEnded && !this.#res.destroyed;
  }
}
