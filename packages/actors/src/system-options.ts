/**
 * The options objects of ActorSystem's spawn, inbox and stop calls (plain data; validated where
 * they are used).
 */
import type { TransferListItem } from 'node:worker_threads';
import type { MailboxOptions, Placement } from './protocol.js';
import type { SupervisionOptions } from './supervision.js';

/** Options of `ActorSystem.spawn`. */
export interface SpawnOptions<Init = unknown> {
  /** Module (URL or absolute path) exporting the actor class. */
  readonly module: URL | string;
  /** Which export is the actor class (default `'default'`). */
  readonly exportName?: string;
  /** Unique among the system's live actors. */
  readonly name: string;
  /**
   * Given to the constructor (again on each restart). May hold refs, typed arrays and, with
   * placement 'thread', SharedArrayBuffers (which cannot cross a process: with placement
   * 'process' they are a `MessageNotCloneableError` naming the field).
   */
  readonly init?: Init;
  /** ArrayBuffers in `init` to transfer (first start only; placement 'process' copies them). */
  readonly transfer?: readonly TransferListItem[];
  /** Mailbox bound (default capacity 10 000, overflow 'reject'). */
  readonly mailbox?: Partial<MailboxOptions>;
  readonly supervision?: SupervisionOptions;
  /**
   * Actors with the same group share one host (a worker thread, or a child process with
   * placement 'process'); without one, an actor gets its own. A group has one placement.
   */
  readonly group?: string;
  /**
   * Where the actor runs: `'thread'` (default) = a worker thread of this process; `'process'` =
   * a forked child process (its actors run on that process's main thread). Same contract in both.
   */
  readonly placement?: Placement;
  /**
   * Extra command-line arguments of the actor's child process (placement 'process' only), shown
   * by `ps` (for example `['--role', 'decode', '--index', '1']`). The spawn that starts a
   * group's process decides its arguments.
   */
  readonly processArgs?: readonly string[];
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
