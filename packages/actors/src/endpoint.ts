/**
 * `Endpoint`: the receiving side of one actor (or inbox) inside its thread — its sender ports
 * (senders in other processes reach it through this thread's `WireNode`), its bounded mailbox and
 * the dispatch loop. It outlives crashes of the actor instance (a restart
 * swaps the `Behavior` in place), so refs held by others keep working.
 * Invariants: at most one message or timer job runs at a time (an async handler holds the actor
 * until its promise settles); entries from one port are handled in arrival order; every ask gets
 * exactly one reply or failure; while the actor is down, asks fail at once with
 * `ActorCrashedError` and tells become dead letters.
 */
import { MessageChannel, type MessagePort, type TransferListItem } from 'node:worker_threads';
import { ActorRef } from './actor-ref.js';
import { Deque } from './deque.js';
import { serializeError } from './error-codec.js';
import { ActorCrashedError, type ActorError, ActorStoppedError, MailboxFullError, MessageNotCloneableError, UnknownMessageError } from './errors.js';
import { describeType, messageTypeOf, type Message } from './message.js';
import { linkFor } from './link-factory.js';
import { PortLink } from './port-link.js';
import {
  envelopeOf,
  type CopyScope,
  type DeadLetterReason,
  type EndpointState,
  type Inbound,
  type MailboxOptions,
  type RefDescriptor,
  type ReplyEnvelope,
} from './protocol.js';
import type { RefResolver } from './reconnecting-link.js';
import { decodeRefs, encodeRefs } from './ref-codec.js';

/** Sends replies back to the asker: over a port in this process, or over the wire to another. */
export interface ReplySink {
  /** How refs inside replies are encoded for this asker. */
  readonly scope: CopyScope;
  /** Sends one reply; throws when it cannot be cloned. */
  send(reply: ReplyEnvelope, transfer: readonly TransferListItem[]): void;
}

/** A message handler as the endpoint calls it. */
export type Handler = (msg: Message) => unknown;

/** What the endpoint runs messages against: an actor instance, or an inbox function. */
export interface Behavior {
  /** The handler for `type`, or null when there is none. */
  handlerFor(type: string): Handler | null;
  /** Graceful end hook (`onStop`). */
  stop(): void | Promise<void>;
  /** Drops timers and other resources without running hooks (crash, kill). */
  dispose(): void;
}

/** Endpoint settings. */
export interface EndpointOptions {
  readonly id: string;
  readonly name: string;
  readonly incarnation: number;
  readonly mailbox: MailboxOptions;
  readonly resolver: RefResolver;
  /** Socket address of this thread's node, when it serves other processes (put in self refs). */
  readonly address?: string | null;
  /** Replies are passed by reference, without ref encoding (the in-thread test kit). */
  readonly local?: boolean;
  /** Called once per crash (handler or timer job threw); the endpoint is then `down`. */
  readonly onCrash: (error: unknown) => void;
  /** Called when a sender asks for a graceful stop (`stop` envelope). */
  readonly onStopRequest?: () => void;
}

type Entry =
  | { readonly kind: 'message'; readonly msg: Message; readonly askId: number | null; readonly sink: ReplySink }
  | { readonly kind: 'job'; readonly run: () => unknown };

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

/** One actor's receiving side. */
export class Endpoint {
  readonly options: EndpointOptions;
  #state: EndpointState = 'starting';
  #behavior: Behavior | null = null;
  #busy = false;
  /** The entry whose async handler is running (null when none). */
  #current: Entry | null = null;
  #processed = 0;
  #lastCause: unknown = null;
  readonly #mailbox = new Deque<Entry>();
  readonly #jobs = new Deque<Entry>();
  readonly #ports = new Set<MessagePort>();
  #idleWaiters: (() => void)[] = [];
  readonly #makeRef = (descriptor: RefDescriptor): ActorRef => new ActorRef(linkFor(descriptor, this.options.resolver));

  constructor(options: EndpointOptions) {
    this.options = options;
  }

  get state(): EndpointState {
    return this.#state;
  }

  get queued(): number {
    return this.#mailbox.size;
  }

  get processed(): number {
    return this.#processed;
  }

  /** True when nothing runs and nothing waits. */
  get idle(): boolean {
    return !this.#busy && this.#mailbox.size === 0 && this.#jobs.size === 0;
  }

  /** Adds a sender channel; replies to its asks go back on the same port. */
  addPort(port: MessagePort): void {
    if (this.#state === 'stopped') {
      port.close();
      return;
    }
    this.#ports.add(port);
    const sink: ReplySink = {
      scope: 'process',
      send: (reply, transfer) => (transfer.length === 0 ? port.postMessage(reply) : port.postMessage(reply, [...transfer])),
    };
    port.on('message', (inbound: Inbound) => this.receive(inbound, sink));
    port.once('close', () => this.#ports.delete(port));
    port.unref();
  }

  /** A new sender channel in this thread; returns the sender's end. */
  openPort(): MessagePort {
    const { port1, port2 } = new MessageChannel();
    this.addPort(port2);
    return port1;
  }

  /** A ref to this endpoint over a new in-thread channel (the actor's `self`). */
  selfRef(): ActorRef {
    const { id, name, incarnation, address } = this.options;
    const route = { via: 'port', port: this.openPort(), address: address ?? null } as const;
    return new ActorRef(new PortLink({ id, name, incarnation, route }, this.options.resolver));
  }

  /** Accepts one message or envelope from a sender. */
  receive(inbound: Inbound, sink: ReplySink): void {
    const envelope = envelopeOf(inbound);
    let msg: Message;
    let askId: number | null = null;
    if (envelope === null) msg = inbound as Message;
    else {
      switch (envelope['@@baton']) {
        case 'connect':
          this.addPort(envelope.port);
          return;
        case 'stop':
          this.options.onStopRequest?.();
          return;
        case 'ask':
          askId = envelope.id;
          break;
        default:
          break;
      }
      msg = (envelope.refs ? decodeRefs(envelope.m, this.#makeRef) : envelope.m) as Message;
    }
    if (this.#state === 'running' && !this.#busy && this.#mailbox.size === 0 && this.#jobs.size === 0) {
      this.#runMessage(msg, askId, sink, null);
      return;
    }
    const entry: Entry = { kind: 'message', msg, askId, sink };
    if (this.#state === 'starting' || this.#state === 'running') this.#offer(entry);
    else if (this.#state === 'down') this.#reject(entry, new ActorCrashedError(this.options.name, this.#lastCause), 'crashed');
    else this.#reject(entry, new ActorStoppedError(this.options.name, messageTypeOf(msg)), 'stopped');
  }

  /** Queues a timer callback; it runs between messages, before waiting messages. */
  enqueueJob(run: () => unknown): void {
    if (this.#state !== 'running' && this.#state !== 'stopping') return;
    this.#jobs.push({ kind: 'job', run });
    this.#drain();
  }

  /** Starts (or restarts after a crash) handling messages with `behavior`. */
  start(behavior: Behavior): void {
    this.#behavior = behavior;
    this.#state = 'running';
    this.#drain();
  }

  /** Graceful stop: no new messages, drain the mailbox, run `onStop`, close ports. */
  async stop(): Promise<Error | null> {
    if (this.#state === 'stopped') return null;
    if (this.#state !== 'running') {
      this.kill();
      return null;
    }
    this.#state = 'stopping';
    await new Promise<void>((resolve) => (this.idle ? resolve() : this.#idleWaiters.push(resolve)));
    let failure: Error | null = null;
    try {
      await this.#behavior?.stop();
    } catch (error) {
      failure = error instanceof Error ? error : new Error(String(error));
    }
    this.kill();
    return failure;
  }

  /** Immediate stop: waiting asks reject with `ActorStoppedError`, ports close. */
  kill(): void {
    if (this.#state === 'stopped') return;
    this.#state = 'stopped';
    this.#behavior?.dispose();
    this.#behavior = null;
    this.#jobs.drain();
    const current = this.#current;
    if (current !== null && current.kind === 'message' && current.askId !== null) {
      this.#reject(current, new ActorStoppedError(this.options.name, messageTypeOf(current.msg)), 'stopped');
    }
    for (const entry of this.#mailbox.drain()) {
      if (entry.kind === 'message') this.#reject(entry, new ActorStoppedError(this.options.name, messageTypeOf(entry.msg)), 'stopped');
    }
    for (const port of this.#ports) port.close();
    this.#ports.clear();
    this.#notifyIdle();
  }

  #offer(entry: Entry): void {
    const { capacity, overflow } = this.options.mailbox;
    if (this.#mailbox.size >= capacity) {
      const victim = overflow === 'reject' ? entry : this.#mailbox.shift();
      if (victim !== null && victim.kind === 'message') {
        this.#reject(victim, new MailboxFullError(this.options.name, describeType(victim.msg), capacity), 'mailbox-full');
      }
      if (overflow === 'reject') return;
    }
    this.#mailbox.push(entry);
  }

  #drain(): void {
    while (!this.#busy && (this.#state === 'running' || this.#state === 'stopping')) {
      const entry = this.#jobs.shift() ?? this.#mailbox.shift();
      if (entry === null) break;
      this.#process(entry);
    }
    if (this.idle) this.#notifyIdle();
  }

  #process(entry: Entry): void {
    if (entry.kind === 'message') this.#runMessage(entry.msg, entry.askId, entry.sink, entry);
    else this.#settle(entry, () => entry.run());
  }

  /** Runs one message; `entry` is null on the fast path (allocated only when needed). */
  #runMessage(msg: Message, askId: number | null, sink: ReplySink, entry: (Entry & { kind: 'message' }) | null): void {
    const type = messageTypeOf(msg);
    const handler = type === null ? null : (this.#behavior?.handlerFor(type) ?? null);
    const asEntry = (): Entry & { kind: 'message' } => entry ?? { kind: 'message', msg, askId, sink };
    if (handler === null) {
      this.#reject(asEntry(), new UnknownMessageError(this.options.name, type), 'unknown-message');
      return;
    }
    let result: unknown;
    try {
      result = handler(msg);
    } catch (error) {
      this.#crash(error, asEntry());
      return;
    }
    if (isThenable(result)) this.#await(asEntry(), result);
    else {
      this.#processed++;
      if (askId !== null) this.#reply(msg, askId, sink, result);
    }
  }

  #settle(entry: Entry, run: () => unknown): void {
    let result: unknown;
    try {
      result = run();
    } catch (error) {
      this.#crash(error, entry);
      return;
    }
    if (isThenable(result)) this.#await(entry, result);
    else this.#complete(entry, result);
  }

  #await(entry: Entry, result: PromiseLike<unknown>): void {
    this.#busy = true;
    this.#current = entry;
    result.then(
      (value) => {
        this.#busy = false;
        this.#current = null;
        this.#complete(entry, value);
        this.#drain();
      },
      (error: unknown) => {
        this.#busy = false;
        this.#current = null;
        this.#crash(error, entry);
        this.#drain();
      },
    );
  }

  #complete(entry: Entry, value: unknown): void {
    this.#processed++;
    if (entry.kind === 'message' && entry.askId !== null) this.#reply(entry.msg, entry.askId, entry.sink, value);
  }

  #reply(msg: Message, askId: number, sink: ReplySink, value: unknown): void {
    if (this.#state === 'stopped') return;
    if (this.options.local === true) {
      sink.send({ k: 'reply', id: askId, v: value, refs: false }, []);
      return;
    }
    try {
      const encoded = encodeRefs(value, undefined, sink.scope);
      sink.send({ k: 'reply', id: askId, v: encoded.value, refs: encoded.refs }, encoded.transfer);
    } catch (error) {
      const failure = new MessageNotCloneableError(this.options.name, `reply to '${describeType(msg)}'`, error);
      sink.send({ k: 'fail', id: askId, e: serializeError(failure) }, []);
    }
  }

  #crash(error: unknown, entry: Entry): void {
    if (this.#state === 'stopped') return;
    this.#lastCause = error;
    this.#state = 'down';
    this.#behavior?.dispose();
    this.#behavior = null;
    const crashed = new ActorCrashedError(this.options.name, error);
    if (entry.kind === 'message') this.#reject(entry, crashed, 'crashed');
    this.#jobs.drain();
    for (const waiting of this.#mailbox.drain()) if (waiting.kind === 'message') this.#reject(waiting, crashed, 'crashed');
    this.options.onCrash(error);
  }

  #reject(entry: Entry & { kind: 'message' }, error: ActorError, reason: DeadLetterReason): void {
    if (entry.askId !== null) entry.sink.send({ k: 'fail', id: entry.askId, e: serializeError(error) }, []);
    else this.options.resolver.deadLetter({ target: this.options.name, messageType: messageTypeOf(entry.msg), reason });
  }

  #notifyIdle(): void {
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
