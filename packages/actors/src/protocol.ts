/**
 * Every message that crosses a thread boundary inside the runtime, in one place.
 *
 * Data plane (hot path):
 *   - inside one process, plain `postMessage` on a MessagePort per sender/actor pair;
 *   - across processes, `WireFrame`s on one unix-domain socket per pair of nodes (see wire-frames.ts),
 *     multiplexing every link from one node to actors of the other.
 *   sender -> actor: `Inbound`;  actor -> sender (same port or link): `ReplyEnvelope`.
 * Control plane (comlink, off the hot path): main -> host: `WorkerControl`; host -> main: `HostApi`,
 *   over dedicated MessagePorts for worker threads, over the fork IPC channel for child processes.
 * Invariant: a port (or a link on a socket) carries envelopes one way and replies the other, in FIFO
 * order, so the order of messages from one sender to one actor is the order they were sent.
 */
import type { MessagePort } from 'node:worker_threads';
import type { SerializedError } from './error-codec.js';
import type { Message } from './message.js';

/** Key that marks an envelope. A value posted to an actor without it is a bare message: a tell. */
export const ENVELOPE_KEY = '@@baton';

/** A framed message from a ref to an actor endpoint. `refs` is true when `m` holds encoded refs. */
export type Envelope =
  /** A tell that holds refs (or whose message itself uses the reserved key). */
  | { readonly '@@baton': 'tell'; readonly m: unknown; readonly refs: boolean }
  | { readonly '@@baton': 'ask'; readonly id: number; readonly m: unknown; readonly refs: boolean }
  /** Attach `port` as a new sender channel of the same actor (a ref was copied to another thread). */
  | { readonly '@@baton': 'connect'; readonly port: MessagePort }
  /** Graceful stop requested by the system, ordered after this sender's earlier messages. */
  | { readonly '@@baton': 'stop' };

/**
 * What a sender posts to an actor: a bare message (the common tell, sent unframed because the
 * wrapper would cost a second object per structured clone) or an envelope.
 */
export type Inbound = Envelope | Message;

/** The envelope in `inbound`, or null when it is a bare message. */
export function envelopeOf(inbound: Inbound): Envelope | null {
  return (inbound as { [ENVELOPE_KEY]?: unknown })[ENVELOPE_KEY] === undefined ? null : (inbound as Envelope);
}

/** The value to post for a tell of `msg` (already ref-encoded as `value`). */
export function tellPayload(msg: Message, value: unknown, refs: boolean): Inbound {
  return refs || Object.hasOwn(msg, ENVELOPE_KEY) ? { [ENVELOPE_KEY]: 'tell', m: value, refs } : msg;
}

/** The answer to an `ask` envelope, sent back on the port the ask came from. */
export type ReplyEnvelope =
  | { readonly k: 'reply'; readonly id: number; readonly v: unknown; readonly refs: boolean }
  | { readonly k: 'fail'; readonly id: number; readonly e: SerializedError };

/**
 * A frame on a node-to-node socket, as `wire-frames.ts` encodes it (`refs`: the payload holds encoded refs; it is the flags byte's bit 0). */
export type WireFrame =
  /** client -> server: a tell (bare message or `tell` envelope) or a `stop` for actor `target`. */
  | { readonly kind: 'in'; readonly link: number; readonly target: string; readonly inbound: Inbound }
  /** client -> server: an ask of actor `target`; the payload is the message. */
  | { readonly kind: 'ask'; readonly link: number; readonly target: string; readonly ask: number; readonly refs: boolean; readonly m: unknown }
  /** server -> client: the reply to ask `ask` sent on `link`; the payload is the value. */
  | { readonly kind: 'reply'; readonly link: number; readonly ask: number; readonly refs: boolean; readonly v: unknown }
  /** server -> client: ask `ask` failed; the payload is the `SerializedError`. */
  | { readonly kind: 'fail'; readonly link: number; readonly ask: number; readonly e: SerializedError }
  /** server -> client: the target of `link`'s last frame is not on this node (stopped, or never here). */
  | { readonly kind: 'closed'; readonly link: number };

/** The key under which an encoded ref travels inside a message. */
export const REF_KEY = '@@baton/actor-ref';

/**
 * Where an actor is placed: a worker thread of the system's process, a forked child process, or a
 * remote node reached through NATS (`remote/`).
 */
export type Placement = 'thread' | 'process' | 'remote';

/**
 * Who will receive an encoded ref: `process` = a thread of this process (MessagePorts can be
 * transferred); `wire` = another process (only plain data crosses).
 */
export type CopyScope = 'process' | 'wire';

/**
 * How a ref reaches its actor: a MessagePort connected to the actor's endpoint (same process only),
 * or the socket address of the node (thread or process) hosting it. `address` is null when the
 * sender does not know it; the receiver then asks its resolver (`locate`).
 */
export type Route =
  | { readonly via: 'port'; readonly port: MessagePort; readonly address: string | null }
  | { readonly via: 'socket'; readonly address: string | null };

/** An `ActorRef` as cloneable data: the actor's identity plus a route to it. */
export interface RefDescriptor {
  readonly id: string;
  readonly name: string;
  /** Generation of the actor's endpoint the route leads to (grows when its host is respawned). */
  readonly incarnation: number;
  readonly route: Route;
}

/** Why a message could not be delivered. */
export type DeadLetterReason = 'stopped' | 'crashed' | 'mailbox-full' | 'unknown-message' | 'not-cloneable';

/** A message that was not delivered (tells only: asks reject with a typed error instead). */
export interface DeadLetter {
  readonly target: string;
  readonly messageType: string | null;
  readonly reason: DeadLetterReason;
}

/** Mailbox bounds of one actor. */
export interface MailboxOptions {
  /** Most messages waiting (not counting the one being handled). */
  readonly capacity: number;
  /** `reject`: refuse the new message; `drop-oldest`: drop the oldest waiting one to make room. */
  readonly overflow: 'reject' | 'drop-oldest';
}

/** Everything a worker needs to construct one actor. */
export interface ActorSpec {
  readonly id: string;
  readonly name: string;
  /** Module URL (`file:` URL or bare specifier). */
  readonly module: string;
  readonly exportName: string;
  readonly init: unknown;
  readonly initRefs: boolean;
  readonly mailbox: MailboxOptions;
  readonly incarnation: number;
}

/**
 * `ActorSpec.init` for an actor in a child process: the init value serialized by `wire-codec.ts`
 * in the parent (so a SharedArrayBuffer fails there with its field path, never silently copied).
 */
export interface WireInit {
  readonly wire: Uint8Array;
}

/** Outcome of constructing an actor inside a worker. */
export type StartResult = { readonly ok: true } | { readonly ok: false; readonly error: SerializedError };

/** Counters of one actor, for `system.stats()`. */
export interface ActorStats {
  readonly id: string;
  readonly name: string;
  readonly queued: number;
  readonly processed: number;
  readonly state: EndpointState;
  readonly placement: Placement;
  /** The process the actor runs in (the system's own pid for placement 'thread'). */
  readonly pid: number;
}

/** Life state of an actor endpoint inside its thread. */
export type EndpointState = 'starting' | 'running' | 'down' | 'stopping' | 'stopped';

/** Control plane a worker exposes to the main thread (comlink). */
export interface WorkerControl {
  /** Construct an actor and run `onStart`; `port` (when given) becomes its first sender channel. */
  spawn(spec: ActorSpec, port: MessagePort | null): Promise<StartResult>;
  /** Re-construct a crashed actor in place; its ports and mailbox are kept. */
  restart(actorId: string): Promise<StartResult>;
  /** Graceful stop: drain the mailbox, run `onStop`, close ports. */
  stop(actorId: string): Promise<void>;
  /** Immediate stop: drop the mailbox, reject pending asks, close ports. */
  kill(actorId: string): Promise<void>;
  /** Add a sender channel to an actor (a ref reconnecting after a worker respawn). */
  attach(actorId: string, port: MessagePort): Promise<boolean>;
  /** Starts (once) the host's socket server for refs from other processes; resolves with its address. */
  listen(): Promise<string>;
  /**
   * Closes this host's socket to the node at `address` (the system declared that node dead), so
   * every ref here to an actor there reconnects through the system and finds where it restarted.
   * NOTE: a node that is only stopped (SIGSTOP) keeps its sockets open: without this, messages
   * from this host would keep going to it.
   */
  forget(address: string): Promise<void>;
  stats(): Promise<ActorStats[]>;
}

/** A route a resolver hands out: a fresh port, or a known socket address. */
export type LiveRoute = { readonly via: 'port'; readonly port: MessagePort; readonly address: string | null } | { readonly via: 'socket'; readonly address: string };

/** Result of asking the system for a (new) route to an actor whose connection closed. */
export type Reconnect =
  | { readonly kind: 'connected'; readonly route: LiveRoute; readonly incarnation: number; readonly cause: SerializedError | null }
  | { readonly kind: 'down'; readonly cause: SerializedError }
  | { readonly kind: 'stopped' };

/** Control plane the main thread exposes to every worker (comlink). */
export interface HostApi {
  /** An actor's handler, constructor (on restart) or timer threw. */
  crashed(actorId: string, error: SerializedError): void;
  /** An actor finished stopping gracefully; `error` is what `onStop` threw, if anything. */
  stopped(actorId: string, error: SerializedError | null): void;
  deadLetter(letter: DeadLetter): void;
  /** A new route after the link's connection closed (`via`: the kind of link asking). */
  reconnect(actorId: string, incarnation: number, via: Route['via']): Promise<Reconnect>;
  /** The socket address of a running actor (a ref that arrived without one). */
  locate(actorId: string): Promise<Reconnect>;
}

/** `workerData` of an actor worker. */
export interface ActorWorkerData {
  readonly control: MessagePort;
  readonly host: MessagePort;
}

/**
 * Messages on a child process's fork IPC channel. Two comlink conversations share it, each
 * wrapped in its own channel tag so neither side mistakes the other's traffic for its own.
 */
export type ProcessIpcMessage =
  /** comlink traffic of the parent's `WorkerControl` calls into the child. */
  | { readonly ch: 'control'; readonly m: unknown }
  /** comlink traffic of the child's `HostApi` calls into the parent. */
  | { readonly ch: 'host'; readonly m: unknown }
  /** The child is ready; `address` is its socket server. */
  | { readonly ch: 'ready'; readonly address: string }
  /** An uncaught error is about to end the child. */
  | { readonly ch: 'fatal'; readonly error: SerializedError };

/** True when `value` is a `ProcessIpcMessage` (anything else on the channel is ignored). */
export function isProcessIpcMessage(value: unknown): value is ProcessIpcMessage {
  const ch = (value as { ch?: unknown } | null)?.ch;
  return ch === 'control' || ch === 'host' || ch === 'ready' || ch === 'fatal';
}
