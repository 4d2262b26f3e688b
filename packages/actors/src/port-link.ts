/**
 * `PortLink`: a ref's connection to an actor over a MessagePort (the data plane's sender side).
 * States: connected -> (port closed) -> connecting -> connected | disconnected | stopped.
 * When the port closes (the actor's thread died or the actor stopped) the link asks its thread's
 * `RefResolver` (the system, directly or over the control plane) what happened: asks that were in
 * flight reject with `ActorCrashedError` (with the cause) or `ActorStoppedError`, and messages sent
 * meanwhile wait for the answer, then go to the new port or fail. Nothing waits forever.
 */
import { MessageChannel, type MessagePort, type TransferListItem } from 'node:worker_threads';
import { ActorRef, DEFAULT_ASK_TIMEOUT_MS, type AskOptions, type Link, type TellOptions } from './actor-ref.js';
import { deserializeError } from './error-codec.js';
import {
  AbortedError,
  ActorCrashedError,
  ActorStoppedError,
  AskTimeoutError,
  MessageNotCloneableError,
} from './errors.js';
import { describeType, messageTypeOf, type Message } from './message.js';
import { tellPayload, type DeadLetter, type Envelope, type Inbound, type Reconnect, type RefDescriptor, type ReplyEnvelope } from './protocol.js';
import { decodeRefs, encodeRefs } from './ref-codec.js';

/** What a thread's links call when their port closes or a message cannot be delivered. */
export interface RefResolver {
  reconnect(actorId: string, incarnation: number): Promise<Reconnect>;
  deadLetter(letter: DeadLetter): void;
}

interface PendingAsk {
  readonly messageType: string;
  resolve(value: unknown): void;
  reject(error: Error): void;
  cleanup(): void;
}

/** Work waiting for the link to (re)connect. */
interface Waiting {
  send(port: MessagePort): void;
  fail(error: Error): void;
}

type LinkState = 'connected' | 'connecting' | 'disconnected' | 'stopped';

/** A ref's link over a MessagePort. */
export class PortLink implements Link {
  readonly id: string;
  readonly name: string;
  readonly #resolver: RefResolver;
  #state: LinkState = 'connected';
  #port: MessagePort | null = null;
  #incarnation: number;
  #nextAskId = 1;
  readonly #pending = new Map<number, PendingAsk>();
  #waiting: Waiting[] = [];
  readonly #makeRef = (descriptor: RefDescriptor): ActorRef => new ActorRef(new PortLink(descriptor, this.#resolver));

  constructor(descriptor: RefDescriptor, resolver: RefResolver) {
    this.id = descriptor.id;
    this.name = descriptor.name;
    this.#resolver = resolver;
    this.#incarnation = descriptor.incarnation;
    this.#attach(descriptor.port);
  }

  tell(msg: Message, options: TellOptions | undefined): void {
    const encoded = this.#encode(msg, options);
    const envelope = tellPayload(msg, encoded.value, encoded.refs);
    if (this.#state === 'connected') {
      this.#post(this.#port as MessagePort, envelope, encoded.transfer, msg);
      return;
    }
    this.#whenConnected({
      send: (port) => {
        try {
          this.#post(port, envelope, encoded.transfer, msg);
        } catch {
          this.#resolver.deadLetter({ target: this.name, messageType: messageTypeOf(msg), reason: 'not-cloneable' });
        }
      },
      fail: (error) =>
        this.#resolver.deadLetter({
          target: this.name,
          messageType: messageTypeOf(msg),
          reason: error instanceof ActorStoppedError ? 'stopped' : 'crashed',
        }),
    });
  }

  ask(msg: Message, options: AskOptions | undefined): Promise<unknown> {
    const messageType = describeType(msg);
    if (options?.signal?.aborted) return Promise.reject(new AbortedError(this.name, `ask '${messageType}'`));
    let encoded;
    try {
      encoded = this.#encode(msg, options);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    return new Promise((resolve, reject) => {
      const id = this.#nextAskId++;
      this.#register(id, messageType, resolve, reject, options);
      const envelope: Envelope = { '@@baton': 'ask', id, m: encoded.value, refs: encoded.refs };
      const send = (port: MessagePort): void => {
        try {
          this.#post(port, envelope, encoded.transfer, msg);
        } catch (error) {
          this.#settle(id)?.reject(error as Error);
        }
      };
      if (this.#state === 'connected') send(this.#port as MessagePort);
      else this.#whenConnected({ send, fail: (error) => this.#settle(id)?.reject(error) });
    });
  }

  copy(): RefDescriptor {
    const { port1, port2 } = new MessageChannel();
    const descriptor: RefDescriptor = { id: this.id, name: this.name, incarnation: this.#incarnation, port: port1 };
    const connect = (port: MessagePort): void => port.postMessage({ '@@baton': 'connect', port: port2 } satisfies Envelope, [port2]);
    if (this.#state === 'connected') connect(this.#port as MessagePort);
    // NOTE: closing our end of a copy that cannot connect makes its holder ask the resolver,
    // which answers "stopped" or "down": the copy fails fast instead of hanging.
    else if (this.#state === 'stopped') port2.close();
    else this.#whenConnected({ send: connect, fail: () => port2.close() });
    return descriptor;
  }

  requestStop(): boolean {
    if (this.#state !== 'connected') return false;
    (this.#port as MessagePort).postMessage({ '@@baton': 'stop' } satisfies Envelope);
    return true;
  }

  /** Closes the port; pending asks reject with `ActorStoppedError`. */
  close(): void {
    this.#stop();
    this.#port?.close();
    this.#port = null;
  }

  #encode(msg: Message, options: TellOptions | undefined): ReturnType<typeof encodeRefs> {
    return encodeRefs(msg, options?.transfer);
  }

  #post(port: MessagePort, envelope: Inbound, transfer: readonly TransferListItem[], msg: Message): void {
    try {
      if (transfer.length === 0) port.postMessage(envelope);
      else port.postMessage(envelope, transfer);
    } catch (error) {
      throw new MessageNotCloneableError(this.name, `message '${describeType(msg)}'`, error);
    }
  }

  #register(
    id: number,
    messageType: string,
    resolve: (value: unknown) => void,
    reject: (error: Error) => void,
    options: AskOptions | undefined,
  ): void {
    const timeoutMs = options?.timeoutMs ?? DEFAULT_ASK_TIMEOUT_MS;
    const timer = Number.isFinite(timeoutMs)
      ? setTimeout(() => this.#settle(id)?.reject(new AskTimeoutError(this.name, messageType, timeoutMs)), timeoutMs)
      : null;
    const signal = options?.signal;
    const onAbort = (): void => this.#settle(id)?.reject(new AbortedError(this.name, `ask '${messageType}'`, { cause: signal?.reason }));
    signal?.addEventListener('abort', onAbort, { once: true });
    const cleanup = (): void => {
      if (timer !== null) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    this.#pending.set(id, { messageType, resolve, reject, cleanup });
  }

  /** Removes a pending ask and returns it (null when it already settled). */
  #settle(id: number): PendingAsk | null {
    const pending = this.#pending.get(id);
    if (pending === undefined) return null;
    this.#pending.delete(id);
    pending.cleanup();
    return pending;
  }

  #attach(port: MessagePort): void {
    this.#port = port;
    this.#state = 'connected';
    port.on('message', (reply: ReplyEnvelope) => this.#onReply(reply));
    port.once('close', () => this.#onClose(port));
    // NOTE: data ports never keep a thread alive; workers (and their control ports) do.
    port.unref();
  }

  #onReply(reply: ReplyEnvelope): void {
    const pending = this.#settle(reply.id);
    if (pending === null) return;
    if (reply.k === 'reply') pending.resolve(reply.refs ? decodeRefs(reply.v, this.#makeRef) : reply.v);
    else pending.reject(deserializeError(reply.e));
  }

  #onClose(port: MessagePort): void {
    if (port !== this.#port || this.#state === 'stopped') return;
    this.#port = null;
    this.#reconnect([...this.#pending.keys()]);
  }

  #whenConnected(waiting: Waiting): void {
    if (this.#state === 'stopped') {
      waiting.fail(new ActorStoppedError(this.name));
      return;
    }
    this.#waiting.push(waiting);
    if (this.#state === 'disconnected') this.#reconnect([]);
  }

  /** Asks the resolver for a new port; `lost` are asks sent on the closed port. */
  #reconnect(lost: number[]): void {
    this.#state = 'connecting';
    this.#resolver.reconnect(this.id, this.#incarnation).then(
      (result) => this.#onReconnect(result, lost),
      () => this.#onReconnect({ kind: 'stopped' }, lost),
    );
  }

  #onReconnect(result: Reconnect, lost: number[]): void {
    if (this.#state === 'stopped') return;
    const cause = result.kind === 'stopped' ? null : result.cause === null ? new Error(`actor '${this.name}' restarted`) : deserializeError(result.cause);
    const lostError = cause === null ? new ActorStoppedError(this.name) : new ActorCrashedError(this.name, cause);
    for (const id of lost) this.#settle(id)?.reject(lostError);
    const waiting = this.#waiting;
    this.#waiting = [];
    if (result.kind === 'connected') {
      this.#incarnation = result.incarnation;
      this.#attach(result.port);
      for (const w of waiting) w.send(result.port);
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
