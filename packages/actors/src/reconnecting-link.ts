/**
 * `ReconnectingLink`: what every transport's link shares — pending asks with their timeouts and
 * abort signals, messages waiting while the link (re)connects, and the reconnect state machine.
 * States: connected -> (transport closed) -> connecting -> connected | disconnected | stopped.
 * When the transport closes (the actor's thread or process died, or the actor stopped) the link
 * asks its thread's `RefResolver` (the system, directly or over the control plane) what happened:
 * asks that were in flight reject with `ActorCrashedError` (with the cause) or `ActorStoppedError`,
 * and messages sent meanwhile wait for the answer, then go to the new route or fail. Nothing waits
 * forever. Subclasses (one per transport) only post envelopes and attach to routes.
 */
import type { TransferListItem } from 'node:worker_threads';
import { DEFAULT_ASK_TIMEOUT_MS, type ActorRef, type AskOptions, type Link, type TellOptions } from './actor-ref.js';
import { armDeadline } from './ask-deadlines.js';
import { deserializeError } from './error-codec.js';
import { AbortedError, ActorCrashedError, ActorStoppedError, AskTimeoutError } from './errors.js';
import { describeType, messageTypeOf, type Message } from './message.js';
import {
  tellPayload,
  type CopyScope,
  type DeadLetter,
  type Envelope,
  type Inbound,
  type LiveRoute,
  type Reconnect,
  type RefDescriptor,
  type ReplyEnvelope,
  type Route,
} from './protocol.js';
import { decodeRefs, encodeRefs } from './ref-codec.js';

/** What a thread's links call when their connection closes or a message cannot be delivered. */
export interface RefResolver {
  /** A new route to the actor after a link of kind `via` lost its connection at `incarnation`. */
  reconnect(actorId: string, incarnation: number, via: Route['via']): Promise<Reconnect>;
  /** The current socket address of the actor (for a ref that arrived without one). */
  locate(actorId: string): Promise<Reconnect>;
  deadLetter(letter: DeadLetter): void;
}

interface PendingAsk {
  resolve(value: unknown): void;
  reject(error: Error): void;
  cleanup(): void;
}

/** Work waiting for the link to (re)connect. */
interface Waiting {
  send(): void;
  fail(error: Error): void;
}

type LinkState = 'connected' | 'connecting' | 'disconnected' | 'stopped';

/** The transport-independent part of a ref's link. */
export abstract class ReconnectingLink implements Link {
  readonly id: string;
  readonly name: string;
  protected readonly resolver: RefResolver;
  protected incarnation: number;
  #state: LinkState = 'connecting';
  /** True until the link was attached once: reconnects then locate instead of waiting for a change. */
  #unrouted = true;
  #nextAskId = 1;
  readonly #pending = new Map<number, PendingAsk>();
  #waiting: Waiting[] = [];
  readonly #makeRef: (descriptor: RefDescriptor) => ActorRef;

  /** How refs inside this link's outgoing messages are encoded. */
  protected abstract readonly scope: CopyScope;

  constructor(descriptor: RefDescriptor, resolver: RefResolver, makeRef: (descriptor: RefDescriptor) => ActorRef) {
    this.id = descriptor.id;
    this.name = descriptor.name;
    this.resolver = resolver;
    this.incarnation = descriptor.incarnation;
    this.#makeRef = makeRef;
  }

  /** Posts one envelope on the current transport; throws `MessageNotCloneableError`. */
  protected abstract post(inbound: Inbound, transfer: readonly TransferListItem[], msg: Message, isAsk: boolean): void;
  /** Connects to `route`; false when this transport cannot use it. */
  protected abstract attach(route: LiveRoute): boolean;
  /** Drops the current transport (the link stops or moves). */
  protected abstract detach(): void;
  /** False when the transport is known to be gone (checked before each send). */
  protected abstract transportUp(): boolean;
  abstract copy(scope: CopyScope): RefDescriptor;

  /** Called when the first ask becomes pending (0 -> 1) and when the last one settles (1 -> 0). */
  protected pendingChanged(_busy: boolean): void {}

  tell(msg: Message, options: TellOptions | undefined): void {
    // NOTE: refs inside a message are encoded when it is posted, not when it starts waiting: a ref's
    // copy carries a fresh port that closes when its target cannot be reached, and a port closed
    // while the message waits for this link cannot be transferred any more.
    const post = (): void => {
      const encoded = encodeRefs(msg, options?.transfer, this.scope);
      this.post(tellPayload(msg, encoded.value, encoded.refs), encoded.transfer, msg, false);
    };
    if (this.#ready()) {
      post();
      return;
    }
    this.whenConnected({
      send: () => {
        try {
          post();
        } catch {
          this.resolver.deadLetter({ target: this.name, messageType: messageTypeOf(msg), reason: 'not-cloneable' });
        }
      },
      fail: (error) =>
        this.resolver.deadLetter({
          target: this.name,
          messageType: messageTypeOf(msg),
          reason: error instanceof ActorStoppedError ? 'stopped' : 'crashed',
        }),
    });
  }

  ask(msg: Message, options: AskOptions | undefined): Promise<unknown> {
    const messageType = describeType(msg);
    if (options?.signal?.aborted) return Promise.reject(new AbortedError(this.name, `ask '${messageType}'`));
    return new Promise((resolve, reject) => {
      const id = this.#nextAskId++;
      this.#register(id, messageType, resolve, reject, options);
      // NOTE: encoded when posted, as in `tell`.
      const send = (): void => {
        try {
          const encoded = encodeRefs(msg, options?.transfer, this.scope);
          const envelope: Envelope = { '@@baton': 'ask', id, m: encoded.value, refs: encoded.refs };
          this.post(envelope, encoded.transfer, msg, true);
        } catch (error) {
          this.#settle(id)?.reject(error as Error);
        }
      };
      if (this.#ready()) send();
      else this.whenConnected({ send, fail: (error) => this.#settle(id)?.reject(error) });
    });
  }

  requestStop(): boolean {
    if (!this.#ready()) return false;
    const stop: Envelope = { '@@baton': 'stop' };
    this.post(stop, [], stop as unknown as Message, false);
    return true;
  }

  /** Drops the transport; pending asks reject with `ActorStoppedError`. */
  close(): void {
    this.#stop();
    this.detach();
  }

  /** True while the link is attached to a route. */
  protected get connected(): boolean {
    return this.#state === 'connected';
  }

  /** True once the link is stopped for good. */
  protected get stopped(): boolean {
    return this.#state === 'stopped';
  }

  /** Runs `waiting.send` once connected (at once when connected), or `fail` if that cannot happen. */
  protected whenConnected(waiting: Waiting): void {
    if (this.#state === 'stopped') {
      waiting.fail(new ActorStoppedError(this.name));
      return;
    }
    this.#waiting.push(waiting);
    if (this.#state === 'disconnected') this.#reconnect([]);
  }

  /** Attaches to the route a descriptor carried; without one, asks the resolver where the actor is. */
  protected start(route: LiveRoute | null): void {
    if (route !== null && this.attach(route)) {
      this.#unrouted = false;
      this.#state = 'connected';
    } else this.#reconnect([]);
  }

  /** Handles one reply from the transport. */
  protected onReply(reply: ReplyEnvelope): void {
    const pending = this.#settle(reply.id);
    if (pending === null) return;
    if (reply.k === 'reply') pending.resolve(reply.refs ? decodeRefs(reply.v, this.#makeRef) : reply.v);
    else pending.reject(deserializeError(reply.e));
  }

  /** The transport closed (or the actor is gone from the node it led to). */
  protected onTransportClosed(): void {
    if (this.#state !== 'connected') return;
    this.detach();
    this.#reconnect([...this.#pending.keys()]);
  }

  #ready(): boolean {
    if (this.#state === 'connected' && !this.transportUp()) this.onTransportClosed();
    return this.#state === 'connected';
  }

  #register(
    id: number,
    messageType: string,
    resolve: (value: unknown) => void,
    reject: (error: Error) => void,
    options: AskOptions | undefined,
  ): void {
    const timeoutMs = options?.timeoutMs ?? DEFAULT_ASK_TIMEOUT_MS;
    const deadline = Number.isFinite(timeoutMs)
      ? armDeadline(Math.max(0, timeoutMs), () => this.#settle(id)?.reject(new AskTimeoutError(this.name, messageType, timeoutMs)))
      : null;
    const signal = options?.signal;
    const onAbort = (): void => this.#settle(id)?.reject(new AbortedError(this.name, `ask '${messageType}'`, { cause: signal?.reason }));
    signal?.addEventListener('abort', onAbort, { once: true });
    const cleanup = (): void => {
      deadline?.cancel();
      signal?.removeEventListener('abort', onAbort);
    };
    this.#pending.set(id, { resolve, reject, cleanup });
    if (this.#pending.size === 1) this.pendingChanged(true);
  }

  /** Removes a pending ask and returns it (null when it already settled). */
  #settle(id: number): PendingAsk | null {
    const pending = this.#pending.get(id);
    if (pending === undefined) return null;
    this.#pending.delete(id);
    pending.cleanup();
    if (this.#pending.size === 0) this.pendingChanged(false);
    return pending;
  }

  /** Asks the resolver for a route; `lost` are asks sent on the closed transport. */
  #reconnect(lost: number[]): void {
    this.#state = 'connecting';
    const answer = this.#unrouted ? this.resolver.locate(this.id) : this.resolver.reconnect(this.id, this.incarnation, this.#via());
    answer.then(
      (result) => this.#onReconnect(result, lost),
      () => this.#onReconnect({ kind: 'stopped' }, lost),
    );
  }

  #via(): Route['via'] {
    return this.scope === 'wire' ? 'socket' : 'port';
  }

  #onReconnect(result: Reconnect, lost: number[]): void {
    if (this.#state === 'stopped') return;
    const attached = result.kind === 'connected' && this.attach(result.route);
    const cause =
      result.kind === 'stopped'
        ? null
        : result.cause !== null
          ? deserializeError(result.cause)
          : result.kind === 'connected' && attached
            ? new Error(`actor '${this.name}' restarted`)
            : new Error(`lost the connection to actor '${this.name}'`);
    const lostError = cause === null ? new ActorStoppedError(this.name) : new ActorCrashedError(this.name, cause);
    for (const id of lost) this.#settle(id)?.reject(lostError);
    const waiting = this.#waiting;
    this.#waiting = [];
    if (attached) {
      this.incarnation = result.incarnation;
      this.#unrouted = false;
      this.#state = 'connected';
      for (const w of waiting) w.send();
      return;
    }
    if (result.kind === 'stopped') this.#stop();
    else this.#state = 'disconnected';
    for (const w of waiting) w.fail(lostError);
  }

  #stop(): void {
    this.#state = 'stopped';
    const error = new ActorStoppedError(this.name);
    for (const id of [...this.#pending.keys()]) this.#settle(id)?.reject(error);
  }
}
