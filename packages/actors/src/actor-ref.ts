/**
 * `ActorRef<P>`: the typed handle through which anyone talks to an actor. The ref itself is thin;
 * delivery is done by a `Link` (a MessagePort to an actor in this process, a socket to one in
 * another process, or an in-thread link in the test kit). A ref is safe to put inside `init`, a
 * message or a reply: the runtime replaces it with a route connected directly to the actor (see
 * `ref-codec.ts`).
 */
import type { TransferListItem } from 'node:worker_threads';
import type { Message, ReplyFor } from './message.js';
import type { CopyScope, RefDescriptor } from './protocol.js';

/** Options of `ActorRef.tell`. */
export interface TellOptions {
  /** ArrayBuffers (or ports) to transfer instead of copy. SharedArrayBuffers are always shared. */
  readonly transfer?: readonly TransferListItem[];
}

/** Options of `ActorRef.ask`. */
export interface AskOptions extends TellOptions {
  /** Reject with `AskTimeoutError` after this many ms (default 30 000; `Infinity` waits forever). */
  readonly timeoutMs?: number;
  /** Reject with `AbortedError` when this signal aborts. */
  readonly signal?: AbortSignal;
}

/** Default ask timeout in milliseconds. */
export const DEFAULT_ASK_TIMEOUT_MS = 30_000;

/** How a ref delivers messages. Internal: users only see `ActorRef`. */
export interface Link {
  readonly id: string;
  readonly name: string;
  tell(msg: Message, options: TellOptions | undefined): void;
  ask(msg: Message, options: AskOptions | undefined): Promise<unknown>;
  /**
   * A descriptor of the same actor to embed in a message: with a new port when the message stays
   * in this process (`scope` 'process'), with a socket route when it goes to another ('wire').
   */
  copy(scope: CopyScope): RefDescriptor;
  /** Asks the actor to stop gracefully, in order after this link's earlier messages; false if it cannot. */
  requestStop(): boolean;
}

let getLink: (ref: ActorRef) => Link;

/**
 * A typed reference to an actor (or a main-thread inbox) speaking protocol `P`.
 * Messages from one sender arrive in the order they were sent.
 */
export class ActorRef<P extends Message = Message> {
  readonly #link: Link;

  static {
    getLink = (ref) => ref.#link;
  }

  /** @internal Refs are made by the runtime (`system.spawn`, `system.inbox`, the test kit). */
  constructor(link: Link) {
    this.#link = link;
  }

  /** The actor's name. */
  get name(): string {
    return this.#link.name;
  }

  /**
   * Fire and forget. Throws `MessageNotCloneableError` at once when the message cannot be cloned;
   * undeliverable messages (stopped actor, full mailbox) become `deadLetter` events.
   */
  tell(msg: P, options?: TellOptions): void {
    this.#link.tell(msg, options);
  }

  /**
   * Sends `msg` and resolves with the handler's reply, typed by the message's `Ask<…, R>`
   * declaration. Rejects with `AskTimeoutError`, `AbortedError`, `ActorCrashedError`,
   * `ActorStoppedError`, `MailboxFullError`, `MessageNotCloneableError` or `UnknownMessageError`.
   */
  ask<M extends P>(msg: M, options?: AskOptions): Promise<ReplyFor<P, M['type']>> {
    return this.#link.ask(msg, options) as Promise<ReplyFor<P, M['type']>>;
  }

  toString(): string {
    return `ActorRef(${this.#link.name})`;
  }
}

/** The link behind a ref (runtime-internal). */
export function linkOf<P extends Message>(ref: ActorRef<P>): Link {
  // NOTE: ActorRef is invariant in its protocol, but the link behind it does not depend on it.
  return getLink(ref as unknown as ActorRef);
}
