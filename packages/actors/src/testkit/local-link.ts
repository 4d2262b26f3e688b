/**
 * `LocalLink`: an in-thread link for the test kit. Messages are checked for cloneability (so
 * tests catch what would fail across threads) but delivered by reference, one microtask later,
 * in send order. Such refs cannot be sent to real worker threads.
 */
import { DEFAULT_ASK_TIMEOUT_MS, type AskOptions, type Link, type TellOptions } from '../actor-ref.js';
import type { ReplySink } from '../endpoint.js';
import { deserializeError } from '../error-codec.js';
import { AbortedError, ActorError, AskTimeoutError, MessageNotCloneableError } from '../errors.js';
import { describeType, type Message } from '../message.js';
import { tellPayload, type Inbound, type RefDescriptor } from '../protocol.js';

/** Something that takes envelopes in this thread (an endpoint or a probe). */
export interface LocalReceiver {
  receive(inbound: Inbound, sink: ReplySink): void;
}

/** Counts deliveries still queued, so the kit can tell when everything has settled. */
export const inFlight = { count: 0 };

/** An in-thread link. */
export class LocalLink implements Link {
  readonly id: string;
  readonly name: string;
  readonly #target: LocalReceiver;
  #nextAskId = 1;

  constructor(id: string, name: string, target: LocalReceiver) {
    this.id = id;
    this.name = name;
    this.#target = target;
  }

  tell(msg: Message, _options: TellOptions | undefined): void {
    this.#check(msg);
    this.#deliver(tellPayload(msg, msg, false), () => {});
  }

  ask(msg: Message, options: AskOptions | undefined): Promise<unknown> {
    const messageType = describeType(msg);
    try {
      this.#check(msg);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    return new Promise((resolve, reject) => {
      const signal = options?.signal;
      if (signal?.aborted) return reject(new AbortedError(this.name, `ask '${messageType}'`));
      const timeoutMs = options?.timeoutMs ?? DEFAULT_ASK_TIMEOUT_MS;
      let settled = false;
      const finish = (): boolean => {
        if (settled) return false;
        settled = true;
        if (timer !== null) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        return true;
      };
      const timer = Number.isFinite(timeoutMs)
        ? setTimeout(() => finish() && reject(new AskTimeoutError(this.name, messageType, timeoutMs)), timeoutMs)
        : null;
      const onAbort = (): void => void (finish() && reject(new AbortedError(this.name, `ask '${messageType}'`)));
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#deliver({ '@@baton': 'ask', id: this.#nextAskId++, m: msg, refs: false }, (reply) => {
        if (!finish()) return;
        if (reply.k === 'reply') resolve(reply.v);
        else reject(deserializeError(reply.e));
      });
    });
  }

  copy(): RefDescriptor {
    throw new ActorError('LOCAL_REF', `test-kit ref '${this.name}' cannot be sent to another thread`);
  }

  requestStop(): boolean {
    return false;
  }

  #check(msg: Message): void {
    try {
      structuredClone(msg);
    } catch (error) {
      throw new MessageNotCloneableError(this.name, `message '${describeType(msg)}'`, error);
    }
  }

  #deliver(envelope: Inbound, sink: ReplySink): void {
    inFlight.count++;
    queueMicrotask(() => {
      inFlight.count--;
      this.#target.receive(envelope, sink);
    });
  }
}
