/**
 * The heartbeat of a remote node, sent from a worker thread of its own with its own NATS
 * connection, so a node whose main thread is busy in a long synchronous step (loading a model, a
 * prefill) still counts as alive; a node whose process is gone or stopped (SIGSTOP) falls silent.
 * The main thread posts the latest `meta` whenever it changes; the thread sends the newest one.
 * `startHeartbeatThread` runs on the node's main thread; `heartbeat-thread-main.ts` is the thread.
 */
import { Worker } from 'node:worker_threads';
import type { NodeHeartbeat } from './remote-subjects.js';

/** What the thread is started with. */
export interface HeartbeatThreadData {
  readonly servers: string[];
  readonly subject: string;
  readonly base: Omit<NodeHeartbeat, 'seq' | 'meta'>;
  readonly meta: unknown;
}

/** The main thread's handle on the heartbeat thread. */
export interface HeartbeatThread {
  /** The meta the next heartbeats carry. */
  setMeta(meta: unknown): void;
  /** Resolves once the first heartbeat was sent. */
  readonly started: Promise<void>;
  stop(): Promise<void>;
}

/** Starts the heartbeat thread. */
export function startHeartbeatThread(data: HeartbeatThreadData): HeartbeatThread {
  const worker = new Worker(new URL('./heartbeat-thread-main.js', import.meta.url), { workerData: data });
  worker.unref();
  const started = new Promise<void>((resolve, reject) => {
    worker.once('message', () => resolve());
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`heartbeat thread exited with code ${code}`)));
  });
  started.catch(() => {});
  return {
    setMeta: (meta) => worker.postMessage(meta),
    started,
    stop: async () => {
      await worker.terminate();
    },
  };
}
