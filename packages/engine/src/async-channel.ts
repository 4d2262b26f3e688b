/**
 * A bounded single-consumer async-iterable channel. The producer never waits (`push` returns at
 * once: tokens must not stall a decode batch); the bound turns a consumer that stopped reading
 * into an error instead of unbounded memory. When the consumer stops early (`break` in a
 * for-await, `return()` or `throw()` on the iterator) the `onCancel` callback fires once, so the
 * producer can abort the request and free its KV.
 *
 * Invariants: items are delivered in push order, each at most once; after close the buffered
 * items drain and then iteration ends; after an error the buffered items drain and then `next()`
 * rejects once with it; `onCancel` fires at most once, and never after the producer closed or
 * failed the channel.
 */
import { EngineError } from './errors.js';

/** State of an {@link AsyncChannel}. */
export type ChannelState = 'open' | 'closed' | 'failed' | 'cancelled';

/** Raised to the consumer when more than `capacity` items were waiting unread. */
export class ChannelOverflowError extends EngineError {
  constructor(capacity: number) {
    super(`stream consumer fell behind: more than ${capacity} items were waiting unread`);
  }
}

/** Options of {@link AsyncChannel}. */
export interface AsyncChannelOptions {
  /** Most unread items held; one more fails the channel with ChannelOverflowError. */
  capacity: number;
  /** Called once when the consumer stops before the producer finished, or on overflow. */
  onCancel?: (reason: 'consumer-stopped' | 'overflow') => void;
}

/** Bounded async-iterable channel (see file header). */
export class AsyncChannel<T> implements AsyncIterable<T> {
  readonly #capacity: number;
  readonly #onCancel: AsyncChannelOptions['onCancel'];
  #buffer: T[] = [];
  #state: ChannelState = 'open';
  #error: unknown = null;
  #errorDelivered = false;
  #waiter: { resolve: (r: IteratorResult<T, undefined>) => void; reject: (e: unknown) => void } | null = null;
  #iterated = false;

  constructor(opts: AsyncChannelOptions) {
    if (!Number.isInteger(opts.capacity) || opts.capacity < 1) {
      throw new EngineError(`AsyncChannel: capacity must be a positive integer, got ${opts.capacity}`);
    }
    this.#capacity = opts.capacity;
    this.#onCancel = opts.onCancel;
  }

  get state(): ChannelState {
    return this.#state;
  }

  /** Unread items. */
  get size(): number {
    return this.#buffer.length;
  }

  /** Delivers an item; false when the channel no longer accepts items (closed, failed, cancelled). */
  push(item: T): boolean {
    if (this.#state !== 'open') return false;
    if (this.#waiter !== null) {
      const w = this.#waiter;
      this.#waiter = null;
      w.resolve({ value: item, done: false });
      return true;
    }
    if (this.#buffer.length >= this.#capacity) {
      this.#fail(new ChannelOverflowError(this.#capacity));
      this.#onCancel?.('overflow');
      return false;
    }
    this.#buffer.push(item);
    return true;
  }

  /** Ends the stream after the buffered items. No-op unless open. */
  close(): void {
    if (this.#state !== 'open') return;
    this.#state = 'closed';
    this.#wake();
  }

  /** Ends the stream with an error, raised after the buffered items. No-op unless open. */
  fail(error: unknown): void {
    if (this.#state !== 'open') return;
    this.#fail(error);
  }

  [Symbol.asyncIterator](): AsyncIterator<T, undefined> {
    if (this.#iterated) throw new EngineError('AsyncChannel supports a single consumer; it is already being iterated');
    this.#iterated = true;
    return {
      next: () => this.#next(),
      return: async () => {
        this.#stop();
        return { value: undefined, done: true };
      },
      throw: async (e: unknown) => {
        this.#stop();
        throw e;
      },
    };
  }

  #next(): Promise<IteratorResult<T, undefined>> {
    if (this.#buffer.length > 0) return Promise.resolve({ value: this.#buffer.shift() as T, done: false });
    if (this.#state === 'failed' && !this.#errorDelivered) {
      this.#errorDelivered = true;
      return Promise.reject(this.#error);
    }
    if (this.#state !== 'open') return Promise.resolve({ value: undefined, done: true });
    if (this.#waiter !== null) return Promise.reject(new EngineError('AsyncChannel: next() called again before the previous call settled'));
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve, reject };
    });
  }

  #stop(): void {
    this.#buffer = [];
    if (this.#state !== 'open') return;
    this.#state = 'cancelled';
    this.#wake();
    this.#onCancel?.('consumer-stopped');
  }

  #fail(error: unknown): void {
    this.#state = 'failed';
    this.#error = error;
    this.#wake();
  }

  #wake(): void {
    const w = this.#waiter;
    if (w === null) return;
    this.#waiter = null;
    // Only reached with an empty buffer (a waiter exists only while nothing is buffered).
    this.#next().then(w.resolve, w.reject);
  }
}
