/**
 * Public API of @baton/actors: a small typed actor runtime on Node worker threads and child
 * processes (the `placement` spawn option).
 * The in-thread test kit is a separate entry point: `@baton/actors/testkit`.
 */

/** Base class of actors, and what an actor sees of its runtime. */
export { Actor, type ActorClass, type ActorContext } from './actor.js';
/** Typed references to actors and their send options. */
export { ActorRef, DEFAULT_ASK_TIMEOUT_MS, type AskOptions, type TellOptions } from './actor-ref.js';
/** The system: spawn, inbox, pool, stop, kill, shutdown, events. */
export { ActorSystem } from './actor-system.js';
/** Options of spawn, inbox and stop. */
export type { InboxOptions, SpawnOptions, StopOptions } from './system-options.js';
/** Time and timers as actors see them. */
export { systemClock, type Clock, type TimerHandle } from './clock.js';
/** OS scheduling priority of the calling thread (per-thread nice on Linux). */
export { setThreadNice } from './thread-priority.js';
/** Typed errors (each with a stable `code`). */
export {
  AbortedError,
  ActorCrashedError,
  ActorError,
  ActorModuleNotFoundError,
  ActorStartError,
  ActorStoppedError,
  ActorUnresponsiveError,
  AskTimeoutError,
  InvalidActorOptionsError,
  MailboxFullError,
  MessageNotCloneableError,
  ProcessExitedError,
  SystemShutdownError,
  UnknownMessageError,
  WorkerExitedError,
} from './errors.js';
/** Lifecycle event map and payloads. */
export type {
  ActorSystemEvents,
  CrashedEvent,
  EscalatedEvent,
  ProcessExitedEvent,
  ProcessStartedEvent,
  RestartedEvent,
  StartedEvent,
  StopReason,
  StoppedEvent,
  WorkerExitedEvent,
  WorkerStartedEvent,
} from './events.js';
/** Inbox handler shape. */
export type { InboxHandler } from './inbox.js';
/** Message typing helpers. */
export type { Ask, Handlers, Message, MessageOfType, ReplyFor, ReplyOf } from './message.js';
/** Stateless pools. */
export type { ActorPool, PoolOptions, PoolRunOptions } from './pool.js';
/** Plain-data types that appear in events and stats. */
export type { ActorStats, DeadLetter, DeadLetterReason, EndpointState, MailboxOptions, Placement } from './protocol.js';
/** Supervision options. */
export type { SupervisionOptions } from './supervision.js';
/** Remote placement: nodes on other hosts, reached through NATS (control, heartbeats) and a direct socket (data). */
export { NatsRemoteHosts, type NatsRemoteHostsOptions } from './remote/nats-remote-hosts.js';
export { startRemoteNode, type RemoteNode, type RemoteNodeOptions } from './remote/remote-node.js';
export type { RemoteHostProvider, RemotePlacementRequest } from './remote/remote-host-provider.js';
export { NoRemoteNodeError, RemoteControlUnavailableError, RemoteNodeLostError, RemoteProtocolError } from './remote/remote-errors.js';
export { allHeartbeats, nodeSubjects, parseHeartbeat, DEFAULT_SUBJECT_PREFIX, type NodeHeartbeat } from './remote/remote-subjects.js';
