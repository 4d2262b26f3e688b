/**
 * The stream `engine.generate()` returns: an async iterable of token events with UTF-8-safe text
 * deltas, then one final event carrying the request's result; the same result is also available
 * as the `result` promise. Built on AsyncChannel, so a consumer that stops early fires the
 * producer's cancel callback (the engine aborts the request and frees its KV).
 *
 * Invariants: concatenating the `text` of every event, the final one included, gives exactly the
 * UTF-8 decoding of all tokens' bytes; a token's `text` never ends inside a multi-byte character
 * (the bytes wait for the next token; the final event flushes what is left); `result` settles
 * exactly once and never causes an unhandled rejection.
 */
import { AsyncChannel } from './async-channel.js';
import { RequestAbortedError } from './errors.js';

/** Streaming ids-to-text decoding that never splits a multi-byte character (the model's IncrementalDecoder). */
export interface TextDeltaDecoder {
  /** Adds ids; returns the text that became complete (possibly ''). */
  push(ids: readonly number[]): string;
  /** Returns what is still pending (incomplete bytes as U+FFFD). */
  flush(): string;
}

/** One generated token. `text` may be '' while a multi-byte character is incomplete. */
export interface TokenEvent {
  type: 'token';
  id: number;
  text: string;
  /** When the token was produced (ms, engine clock). */
  time: number;
}

/** Last event: the request's result and any text flushed at the end. */
export interface FinalEvent<R> {
  type: 'final';
  text: string;
  result: R;
}

/** What a {@link TokenStream} yields. */
export type TokenStreamEvent<R> = TokenEvent | FinalEvent<R>;

/** Options of {@link TokenStream}. */
export interface TokenStreamOptions {
  /** Turns ids into UTF-8-safe text deltas (the tokenizer's incremental decoder). */
  decoder: TextDeltaDecoder;
  /** Most unread events (the request's maxTokens + 1 makes overflow impossible). */
  capacity: number;
  /** Fired once when the consumer stops early (or overflows). */
  onCancel?: () => void;
  /** Names the request in the abort error. */
  requestId?: string;
}

/** A request's token stream (see file header). */
export class TokenStream<R> implements AsyncIterable<TokenStreamEvent<R>> {
  /** Settles with the final result; rejects if the stream fails or the consumer stops early. */
  readonly result: Promise<R>;
  readonly #channel: AsyncChannel<TokenStreamEvent<R>>;
  readonly #decoder: TextDeltaDecoder;
  #text = '';
  #resolve!: (r: R) => void;
  #reject!: (e: unknown) => void;

  constructor(opts: TokenStreamOptions) {
    this.#decoder = opts.decoder;
    this.result = new Promise<R>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    // NOTE: callers that only iterate never look at `result`; keep its rejection from crashing
    // the process as an unhandled rejection. Awaiting it still rejects.
    this.result.catch(() => undefined);
    const requestId = opts.requestId ?? null;
    this.#channel = new AsyncChannel<TokenStreamEvent<R>>({
      capacity: opts.capacity,
      onCancel: (reason) => {
        const who = requestId === null ? 'request' : `request "${requestId}"`;
        const why = reason === 'overflow' ? 'its stream consumer fell behind' : 'its stream consumer stopped';
        this.#reject(new RequestAbortedError(requestId, `${who} was cancelled: ${why}`));
        opts.onCancel?.();
      },
    });
  }

  /** All text so far. */
  get text(): string {
    return this.#text;
  }

  /** True while the stream accepts tokens. */
  get open(): boolean {
    return this.#channel.state === 'open';
  }

  /** Adds a token; false when the stream no longer accepts tokens (finished or cancelled). */
  pushToken(id: number, time: number): boolean {
    if (!this.open) return false;
    const text = this.#decoder.push([id]);
    this.#text += text;
    return this.#channel.push({ type: 'token', id, text, time });
  }

  /** Ends the stream with its result, flushing incomplete bytes (as U+FFFD) into the final event. */
  finish(result: R): void {
    if (!this.open) return;
    const text = this.#decoder.flush();
    this.#text += text;
    this.#channel.push({ type: 'final', text, result });
    this.#channel.close();
    this.#resolve(result);
  }

  /** Ends the stream with an error: raised to the consumer after buffered tokens, and by `result`. */
  fail(error: unknown): void {
    if (!this.open) return;
    this.#channel.fail(error);
    this.#reject(error);
  }

  [Symbol.asyncIterator](): AsyncIterator<TokenStreamEvent<R>, undefined> {
    return this.#channel[Symbol.asyncIterator]();
  }
}
