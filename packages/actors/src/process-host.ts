/**
 * `ProcessHost`: the system's handle on one actor process (placement 'process') — a
 * `child_process.fork` of `process/actor-process.js` with `serialization: 'advanced'`, the comlink
 * proxy of its control plane over the fork IPC channel, its data-plane socket address and the set
 * of actors it hosts. Every control call waits for the child's `ready` and races its death.
 * Invariants: the death is reported once, after the IPC channel has delivered everything the child
 * sent, so a `fatal` report always arrives before it; `terminate()` ends the
 * child (disconnect, then SIGKILL if it lingers) and resolves only once it is gone.
 */
import * as Comlink from 'comlink/dist/esm/comlink.mjs';
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ActorHost, HostHooks } from './actor-host.js';
import { deserializeError } from './error-codec.js';
import { ProcessExitedError } from './errors.js';
import { ipcEndpoint } from './ipc-endpoint.js';
import { isProcessIpcMessage, type HostApi, type WorkerControl } from './protocol.js';

const PROCESS_ENTRY = fileURLToPath(new URL('./process/actor-process.js', import.meta.url));

/** How long a terminated child may take to exit by itself before it is killed. */
const EXIT_GRACE_MS = 2_000;

/** Inspector flags of the parent would make every child fight for the same debug port. */
function inheritedExecArgv(): string[] {
  return process.execArgv.filter((arg) => !/^--inspect(-brk|-port|-wait)?(=|$)/.test(arg));
}

/** What a new actor process is started with. */
export interface ProcessHostOptions {
  /** Appended to the child's argv (for example `['--role', 'decode', '--index', '1']`). */
  readonly args: readonly string[];
}

/** One actor process. */
export class ProcessHost implements ActorHost {
  readonly placement = 'process';
  readonly actorIds = new Set<string>();
  /** The child's pid (kept after it exits). */
  readonly pid: number;
  readonly #child: ChildProcess;
  readonly #control: Comlink.Remote<WorkerControl>;
  readonly #dead: Promise<never>;
  readonly #ready: Promise<string>;
  /** Settles after the exit hooks ran, however the process ended. */
  readonly #exited: Promise<void>;
  #alive = true;
  #terminating = false;
  #fatal: Error | null = null;
  #exitCode: number | null = null;
  #signal: string | null = null;
  #address: string | null = null;

  constructor(hostApi: HostApi, hooks: HostHooks<ProcessHost>, options: ProcessHostOptions) {
    this.#child = fork(PROCESS_ENTRY, [...options.args], {
      serialization: 'advanced',
      stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
      execArgv: inheritedExecArgv(),
    });
    this.pid = this.#child.pid ?? -1;
    this.#control = Comlink.wrap<WorkerControl>(ipcEndpoint(this.#child, 'control'));
    Comlink.expose(hostApi, ipcEndpoint(this.#child, 'host'));
    let reportDeath: (cause: Error) => void = () => {};
    this.#dead = new Promise<never>((_, reject) => (reportDeath = reject));
    this.#dead.catch(() => {});
    let markReady: (address: string) => void = () => {};
    this.#ready = new Promise<string>((resolve) => (markReady = resolve));
    let markExited: () => void = () => {};
    this.#exited = new Promise<void>((resolve) => (markExited = resolve));
    this.#child.on('message', (message: unknown) => {
      if (!isProcessIpcMessage(message)) return;
      if (message.ch === 'ready') {
        this.#address = message.address;
        markReady(message.address);
      }
      else if (message.ch === 'fatal') this.#fatal = deserializeError(message.error);
    });
    let exited = false;
    let disconnected = false;
    // NOTE: only a failed spawn counts (it never exits or disconnects); a send on a closed
    // channel also emits 'error', which is ignored.
    this.#child.on('error', (error) => {
      if (this.#child.pid !== undefined) return;
      this.#fatal ??= error;
      exited = true;
      disconnected = true;
      ended();
    });
    const ended = (): void => {
      if (!exited || !disconnected || !this.#alive) return;
      this.#alive = false;
      const cause = this.#fatal ?? new ProcessExitedError(this.pid, this.#exitCode, this.#signal);
      reportDeath(cause);
      if (!this.#terminating) hooks.onDeath(this, cause);
      hooks.onExit(this);
      markExited();
    };
    // NOTE: the end is the later of 'exit' and 'disconnect': the channel disconnects only after
    // it delivered everything the child sent (so a 'fatal' report is in), and 'close' is not
    // emitted at all when the parent disconnects first.
    this.#child.once('exit', (code, signal) => {
      this.#exitCode = code;
      this.#signal = signal;
      exited = true;
      ended();
    });
    this.#child.once('disconnect', () => {
      disconnected = true;
      ended();
    });
  }

  get alive(): boolean {
    return this.#alive;
  }

  /** The child's exit code (null while it runs or when a signal ended it). */
  get exitCode(): number | null {
    return this.#exitCode;
  }

  /** The signal that ended the child, or null. */
  get signal(): string | null {
    return this.#signal;
  }

  /** The child's socket server address (known once it is ready). */
  address(): Promise<string> {
    if (!this.#alive) return this.#dead;
    return Promise.race([this.#ready, this.#dead]);
  }

  get knownAddress(): string | null {
    return this.#address;
  }

  call<T>(fn: (control: Comlink.Remote<WorkerControl>) => Promise<T>): Promise<T> {
    if (!this.#alive) return this.#dead;
    return Promise.race([this.#ready.then(() => fn(this.#control)), this.#dead]);
  }

  /** Kills the child (SIGKILL: it may be stopped or stuck) as a death with `cause`. */
  abandon(cause: Error): void {
    if (!this.#alive || this.#terminating) return;
    this.#fatal ??= cause;
    this.#child.kill('SIGKILL');
  }

  async terminate(): Promise<void> {
    if (this.#alive) {
      this.#terminating = true;
      // NOTE: the child exits on disconnect; SIGKILL covers a child stuck in synchronous code.
      if (this.#child.connected) this.#child.disconnect();
      const timer = setTimeout(() => this.#child.kill('SIGKILL'), EXIT_GRACE_MS);
      await this.#exited;
      clearTimeout(timer);
    }
    await this.#exited;
    // NOTE: the process and IPC handles close in the loop's close phase after the exit; two
    // turns later they are gone, so a caller that checks for open handles finds none.
    for (let turn = 0; turn < 2; turn++) await new Promise<void>((resolve) => setImmediate(resolve));
  }
}
