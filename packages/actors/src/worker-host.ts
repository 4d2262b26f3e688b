/**
 * `WorkerHost`: the main thread's handle on one actor worker thread (placement 'thread') — the
 * `Worker`, the comlink proxies of its control plane, and the set of actors it hosts. Every
 * control call races the thread's death, so a call to a worker that dies rejects instead of hanging.
 */
import * as Comlink from 'comlink/dist/esm/comlink.mjs';
import { MessageChannel, Worker } from 'node:worker_threads';
import type { ActorHost, HostHooks } from './actor-host.js';
import { WorkerExitedError } from './errors.js';
import type { ActorWorkerData, HostApi, WorkerControl } from './protocol.js';

const WORKER_URL = new URL('./worker/actor-worker.js', import.meta.url);

/** One actor worker thread. */
export class WorkerHost implements ActorHost {
  readonly placement = 'thread';
  readonly actorIds = new Set<string>();
  /** The worker's thread id (kept after it exits). */
  readonly threadId: number;
  readonly #worker: Worker;
  readonly #control: Comlink.Remote<WorkerControl>;
  readonly #closePorts: () => void;
  readonly #dead: Promise<never>;
  /** Settles after the exit hooks ran, however the thread ended. */
  readonly #exited: Promise<void>;
  #alive = true;
  #terminating = false;
  #lastError: Error | null = null;
  #exitCode: number | null = null;
  #address: string | null = null;

  /**
   * Starts a worker. `onExit` runs once when the thread ends, however it ends; `onDeath` runs
   * before it when the thread ended without `terminate()`.
   */
  constructor(hostApi: HostApi, hooks: HostHooks<WorkerHost>) {
    const control = new MessageChannel();
    const host = new MessageChannel();
    const workerData: ActorWorkerData = { control: control.port2, host: host.port2 };
    this.#worker = new Worker(WORKER_URL, { workerData, transferList: [control.port2, host.port2] });
    this.threadId = this.#worker.threadId;
    this.#control = Comlink.wrap<WorkerControl>(control.port1);
    Comlink.expose(hostApi, host.port1);
    // NOTE: the Worker keeps the process alive; its control ports must not do so after it ends.
    control.port1.unref();
    host.port1.unref();
    this.#closePorts = () => {
      control.port1.close();
      host.port1.close();
    };
    let reportDeath: (cause: Error) => void = () => {};
    this.#dead = new Promise<never>((_, reject) => (reportDeath = reject));
    this.#dead.catch(() => {});
    let markExited: () => void = () => {};
    this.#exited = new Promise<void>((resolve) => (markExited = resolve));
    this.#worker.on('error', (error) => (this.#lastError = error));
    this.#worker.once('exit', (code) => {
      this.#alive = false;
      this.#exitCode = code;
      this.#closePorts();
      const cause = this.#lastError ?? new WorkerExitedError(code);
      reportDeath(cause);
      if (!this.#terminating) hooks.onDeath(this, cause);
      hooks.onExit(this);
      markExited();
    });
  }

  get alive(): boolean {
    return this.#alive;
  }

  /** The thread's exit code once it ended, else null. */
  get exitCode(): number | null {
    return this.#exitCode;
  }

  /** Starts the worker's socket server on first use (refs to its actors reached other processes). */
  address(): Promise<string> {
    return this.call((control) => control.listen()).then((address) => (this.#address = address));
  }

  get knownAddress(): string | null {
    return this.#address;
  }

  /** Runs a control-plane call; rejects with the death cause if the thread ends first. */
  call<T>(fn: (control: Comlink.Remote<WorkerControl>) => Promise<T>): Promise<T> {
    if (!this.#alive) return this.#dead;
    return Promise.race([fn(this.#control), this.#dead]);
  }

  /**
   * Ends the thread as a death with `cause`. NOTE: `Worker.terminate()` stops a thread even inside
   * a busy loop or an `Atomics.wait`, so a frozen actor's thread can be replaced.
   */
  abandon(cause: Error): void {
    if (!this.#alive || this.#terminating) return;
    this.#lastError = cause;
    void this.#worker.terminate();
  }

  /**
   * Ends the thread (no death report) and closes its control ports. Resolves only after the exit
   * hooks ran. NOTE: awaits the exit event rather than `worker.terminate()`'s promise, because a
   * second terminate (kill, then shutdown) can resolve before the thread's 'exit' is emitted.
   */
  async terminate(): Promise<void> {
    if (this.#alive) {
      this.#terminating = true;
      await this.#worker.terminate();
    }
    await this.#exited;
    this.#closePorts();
  }
}
