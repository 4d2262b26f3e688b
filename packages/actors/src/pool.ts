/**
 * Stateless pools: identical replicas of a task function behind one handle, on piscina.
 * NOTE: piscina's default `atomics: 'sync'` parks idle workers in `Atomics.wait`, which stops
 * their ports and timers; pools here always use `atomics: 'disabled'`.
 */
import { Piscina } from 'piscina';
import type { TransferListItem } from 'node:worker_threads';
import { AbortedError, InvalidActorOptionsError } from './errors.js';
import { resolveModuleUrl } from './module-loader.js';

/** Options of `ActorSystem.pool`. */
export interface PoolOptions {
  /** Module whose default export (or `exportName`) is `(input) => output | Promise<output>`. */
  readonly module: URL | string;
  readonly exportName?: string;
  /** Number of worker threads (default 1). */
  readonly size?: number;
  /** Name used in errors (default: the module's file name). */
  readonly name?: string;
}

/** Options of one pool task. */
export interface PoolRunOptions {
  readonly signal?: AbortSignal;
  readonly transfer?: readonly TransferListItem[];
}

/** Many identical stateless replicas behind one handle. */
export interface ActorPool<I, O> {
  readonly name: string;
  readonly size: number;
  /** Runs `input` on any replica. Rejects with `AbortedError` when `signal` aborts. */
  run(input: I, options?: PoolRunOptions): Promise<O>;
  /** Waits for running tasks, then ends the threads. */
  close(): Promise<void>;
}

/** Creates a piscina-backed pool (validates options and that the module exists); `onClose` runs on close. */
export function createPool<I, O>(options: PoolOptions, onClose: (pool: ActorPool<I, O>) => void): ActorPool<I, O> {
  const size = options.size ?? 1;
  if (!Number.isInteger(size) || size < 1) throw new InvalidActorOptionsError('size', `expected an integer >= 1, got ${String(size)}`);
  const filename = resolveModuleUrl(options.module);
  const name = options.name ?? filename.slice(filename.lastIndexOf('/') + 1);
  const piscina = new Piscina({
    filename,
    name: options.exportName ?? 'default',
    minThreads: size,
    maxThreads: size,
    atomics: 'disabled',
  });
  let closed: Promise<void> | null = null;
  const pool: ActorPool<I, O> = {
    name,
    size,
    async run(input, runOptions) {
      try {
        return (await piscina.run(input, {
          signal: runOptions?.signal ?? null,
          transferList: runOptions?.transfer as TransferListItem[] | undefined,
        })) as O;
      } catch (error) {
        if (runOptions?.signal?.aborted) throw new AbortedError(name, 'pool task', { cause: error });
        throw error;
      }
    },
    close() {
      onClose(pool);
      closed ??= piscina.close();
      return closed;
    },
  };
  return pool;
}
