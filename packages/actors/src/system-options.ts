/**
 * The options objects of ActorSystem's spawn, inbox and stop calls (plain data; validated where
 * they are used).
 */
import type { TransferListItem } from 'node:worker_threads';
import type { MailboxOptions } from './protocol.js';
import type { SupervisionOptions } from './supervision.js';

/** Options of `ActorSystem.spawn`. */
export interface SpawnOptions<Init = unknown> {
  /** Module (URL or absolute path) exporting the actor class. */
  readonly module: URL | string;
  /** Which export is the actor class (default `'default'`). */
  readonly exportName?: string;
  /** Unique among the system's live actors. */
  readonly name: string;
  /** Given to the constructor (again on each restart). May hold refs and SharedArrayBuffers. */
  readonly init?: Init;
  /** ArrayBuffers in `init` to transfer (first start only). */
  readonly transfer?: readonly TransferListItem[];
  /** Mailbox bound (default capacity 10 000, overflow 'reject'). */
  readonly mailbox?: Partial<MailboxOptions>;
  readonly supervision?: SupervisionOptions;
  /** Actors with the same group share one worker thread; without one, an actor gets its own. */
  readonly group?: string;
}

/** Options of `ActorSystem.inbox`. */
export interface InboxOptions {
  readonly name?: string;
  readonly mailbox?: Partial<MailboxOptions>;
}

/** Options of `ActorSystem.stop`. */
export interface StopOptions {
  /** Kill the actor if the graceful stop takes longer (default 10 000 ms). */
  readonly timeoutMs?: number;
}
