/**
 * ProcessHost: the parent's handle on one forked serving process — fork with an `init`, wait for
 * `ready`, send messages, ask for stats, notice an unexpected exit, restart, stop.
 *
 * Invariants: `onExit` fires once per unexpected exit (never for a stop()); after stop() the
 * process is gone (SIGKILL after a grace period); stats asks never hang (they time out).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { PoolStats } from '@baton/kv-cache';
import { ActorFailedError } from '../errors.js';
import type { ServingActorStats } from '../protocol.js';
import type { FromProcess, ProcessInit, ToProcess } from './process-protocol.js';

const ENTRY = fileURLToPath(new URL('./serving-process.js', import.meta.url));
const READY_TIMEOUT_MS = 120_000;
const STATS_TIMEOUT_MS = 5_000;
const STOP_GRACE_MS = 3_000;

/** Callbacks of a host. */
export interface ProcessHostEvents {
  onMessage: (msg: FromProcess) => void;
  /** The process exited without being asked to. */
  onExit: (description: string) => void;
}

/** One serving process. */
export class ProcessHost {
  #child: ChildProcess | null = null;
  #kvPorts: readonly number[] = [];
  #stopping = false;
  #asks = new Map<number, (r: { stats: ServingActorStats; pool: PoolStats } | null) => void>();
  #nextAsk = 0;

  constructor(
    readonly init: ProcessInit,
    private readonly events: ProcessHostEvents,
  ) {}

  /** The process name (`prefill-0`). */
  get name(): string {
    return this.init.name;
  }

  /** The OS process id, or null when not running. */
  get pid(): number | null {
    return this.#child?.pid ?? null;
  }

  /** A prefill process's KV link ports, one per decode process ([] for decode, or before ready). */
  get kvPorts(): readonly number[] {
    return this.#kvPorts;
  }

  /** Forks the process and resolves once its model is loaded. */
  start(): Promise<void> {
    const child = fork(ENTRY, [this.init.name], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced' });
    this.#child = child;
    this.#kvPorts = [];
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new ActorFailedError(this.name, `not ready within ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS);
      child.on('message', (msg: FromProcess) => {
        if (msg.type === 'ready') {
          clearTimeout(timer);
          this.#kvPorts = msg.kvPorts;
          resolve();
        } else if (msg.type === 'fatal') {
          clearTimeout(timer);
          reject(new ActorFailedError(this.name, msg.message));
        } else if (msg.type === 'stats') this.#asks.get(msg.ask)?.({ stats: msg.stats, pool: msg.pool });
        else this.events.onMessage(msg);
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        this.#failAsks();
        const description = signal !== null ? `killed by ${signal}` : `exited with code ${code}`;
        reject(new ActorFailedError(this.name, description));
        if (this.#child === child) this.#child = null;
        if (!this.#stopping) this.events.onExit(description);
      });
      child.send({ type: 'init', init: this.init } satisfies ToProcess);
    });
  }

  /** Sends a message; false when the process is not running. */
  send(msg: ToProcess): boolean {
    const child = this.#child;
    if (child === null || !child.connected) return false;
    child.send(msg);
    return true;
  }

  /** The process's stats and pool, or null when it does not answer. */
  stats(): Promise<{ stats: ServingActorStats; pool: PoolStats } | null> {
    const ask = this.#nextAsk++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish(null), STATS_TIMEOUT_MS);
      const finish = (r: { stats: ServingActorStats; pool: PoolStats } | null): void => {
        clearTimeout(timer);
        this.#asks.delete(ask);
        resolve(r);
      };
      this.#asks.set(ask, finish);
      if (!this.send({ type: 'stats', ask })) finish(null);
    });
  }

  /** Asks the process to exit; kills it after a grace period. */
  async stop(): Promise<void> {
    this.#stopping = true;
    const child = this.#child;
    if (child === null || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    this.send({ type: 'shutdown' });
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    await exited;
    clearTimeout(timer);
  }

  #failAsks(): void {
    for (const finish of [...this.#asks.values()]) finish(null);
  }
}
