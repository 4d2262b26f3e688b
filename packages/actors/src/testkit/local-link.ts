/**
 * `LocalLink`: an in-thread link for the test kit. Messages are checked for cloneability (so
 * tests catch what would fail across threads — or, for an actor tested with placement 'process',
 * across processes) but delivered by reference, one microtask later, in send order. Such refs
 * cannot be sent to real worker threads or processes.
 */
import { DEFAULT_ASK_TIMEOUT_MS, type AskOptions, type Link, type TellOptions } from '../actor-ref.js';
import type { ReplySink } from '../endpoint.js';
import { deserializeError } from '../error-codec.js';
import { AbortedError, ActorError, AskTimeoutError, MessageNotCloneableError } from '../errors.js';
import { describeType, type Message } from '../message.js';
import { tellPayload, type Inbound, type Placement, type RefDescriptor } from '../protocol.js';
import { toWireExplained } from '../wire-codec.js';

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
  readonly #placement: Placement;
  #nextAskId = 1;

  /** `placement`: where the receiving actor would run, which decides the cloneability check. */
  constructor(id: string, name: string, target: LocalReceiver, placement: Placement = 'thread') {
    this.id = id;
    this.name = name;
    this.#target = target;
    this.#placement = placement;
  }

  tell(msg: Message, _options: TellOptions | undefined): void {
    this.#check(msg);
    this.#deliver(tellPayload(msg, msg, false), { scope: 'process', send: () => {} });
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
      const sink: ReplySink = {
        scope: 'process',
        send: (reply) => {
          if (!finish()) return;
          if (reply.k === 'reply') resolve(reply.v);
          else reject(deserializeError(reply.e));
        },
      };
      this.#deliver({ '@@baton': 'ask', id: this.#nextAskId++, m: msg, refs: false }, sink);
    });
  }

  copy(): RefDescriptor {
    throw new ActorError('LOCAL_REF', `test-kit ref '${this.name}' cannot be sent to another thread or process`);
  }

  requestStop(): boolean {
    return false;
  }

  #check(msg: Message): void {
    try {
      if (this.#placement === 'thread') structuredClone(msg);
      else toWireExplained(msg, 'message');
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
