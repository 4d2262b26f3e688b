/**
 * `TestProbe`: a ref that records what it receives, with `expectMessage` / `expectNoMessage`
 * assertions. Expectations consume messages in arrival order.
 */
import { isDeepStrictEqual, inspect } from 'node:util';
import { ActorRef } from '../actor-ref.js';
import type { ReplySink } from '../endpoint.js';
import type { Message } from '../message.js';
import { envelopeOf, type Inbound } from '../protocol.js';
import { LocalLink, type LocalReceiver } from './local-link.js';

/** What an expected message must look like: a deep-partial pattern or a predicate. */
export type MessagePattern<P> = ((msg: P) => boolean) | DeepPartial<P>;

/** Every field optional, recursively (arrays and primitives compared whole). */
export type DeepPartial<T> = T extends readonly unknown[] ? T : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;

/** Options of `expectMessage`. */
export interface ExpectOptions {
  /** Real milliseconds to wait for the next message (default 1 000). */
  readonly timeoutMs?: number;
}

/** True when `actual` has every field of `pattern` with an equal (deep) value. */
export function matchesPattern(actual: unknown, pattern: unknown): boolean {
  if (typeof pattern === 'function') return (pattern as (value: unknown) => boolean)(actual) === true;
  if (typeof pattern !== 'object' || pattern === null || Array.isArray(pattern) || ArrayBuffer.isView(pattern)) {
    return isDeepStrictEqual(actual, pattern);
  }
  if (typeof actual !== 'object' || actual === null) return false;
  const record = actual as Record<string, unknown>;
  return Object.entries(pattern).every(([key, value]) => matchesPattern(record[key], value));
}

/** A recording ref for tests. */
export class TestProbe<P extends Message = Message> implements LocalReceiver {
  /** The ref to hand to the actor under test. */
  readonly ref: ActorRef<P>;
  /** Every message received, in order (consumed or not). */
  readonly messages: P[] = [];
  readonly #unread: P[] = [];
  #waiters: (() => void)[] = [];
  #responder: ((msg: P) => unknown) | null = null;
  readonly #settle: () => Promise<void>;

  constructor(name: string, settle: () => Promise<void>) {
    this.ref = new ActorRef<P>(new LocalLink(`probe:${name}`, name, this));
    this.#settle = settle;
  }

  /** Answers asks sent to the probe with `responder(msg)` (by default asks get no reply). */
  respondWith(responder: (msg: P) => unknown): this {
    this.#responder = responder;
    return this;
  }

  /** @internal Called by the probe's link. */
  receive(inbound: Inbound, sink: ReplySink): void {
    const envelope = envelopeOf(inbound);
    if (envelope !== null && envelope['@@baton'] !== 'ask' && envelope['@@baton'] !== 'tell') return;
    const msg = (envelope === null ? inbound : envelope.m) as P;
    this.messages.push(msg);
    this.#unread.push(msg);
    if (envelope?.['@@baton'] === 'ask' && this.#responder !== null) sink.send({ k: 'reply', id: envelope.id, v: this.#responder(msg), refs: false }, []);
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  /**
   * Waits for the next unread message and checks it against `pattern`; returns it.
   * Throws an assertion error when none arrives in time or it does not match.
   */
  async expectMessage(pattern?: MessagePattern<P>, options?: ExpectOptions): Promise<P> {
    const timeoutMs = options?.timeoutMs ?? 1_000;
    if (this.#unread.length === 0) await this.#settle();
    if (this.#unread.length === 0) await this.#waitForMessage(timeoutMs);
    const msg = this.#unread.shift();
    if (msg === undefined) throw new Error(`expectMessage: no message arrived within ${timeoutMs} ms`);
    if (pattern !== undefined && !matchesPattern(msg, pattern)) {
      throw new Error(`expectMessage: got ${inspect(msg, { depth: 4 })}, which does not match ${inspect(pattern, { depth: 4 })}`);
    }
    return msg;
  }

  /** Lets every actor of the kit settle, then checks that no unread message is waiting. */
  async expectNoMessage(): Promise<void> {
    await this.#settle();
    if (this.#unread.length > 0) throw new Error(`expectNoMessage: got ${inspect(this.#unread[0], { depth: 4 })}`);
  }

  #waitForMessage(timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.#waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
