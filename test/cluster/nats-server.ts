/**
 * Test support: a real `nats-server` on a free loopback port, started and stopped by the test.
 * A missing binary is an error saying how to install it (tests never skip silently).
 * `restart()` stops the server and starts a new one on the same port (clients reconnect).
 * `clients()` reads the broker's monitoring endpoint: the client connections still open and
 * their subscriptions (the tests' "nothing left behind" check).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

/** The binary: $NATS_SERVER, else `nats-server` on PATH, else /usr/sbin/nats-server (Debian). */
export function natsServerBinary(): string {
  const candidates = [process.env.NATS_SERVER, 'nats-server', '/usr/sbin/nats-server'].filter((c): c is string => c !== undefined && c !== '');
  for (const candidate of candidates) {
    if (spawnSync(candidate, ['--version'], { stdio: 'ignore' }).status === 0) return candidate;
  }
  throw new Error('nats-server not found: install it (`sudo apt-get install nats-server`) or set NATS_SERVER to its path');
}

/** A TCP port free on loopback right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

/** A client connection as the broker's monitoring endpoint lists it. */
export interface BrokerClient {
  readonly name: string;
  readonly subscriptions: readonly string[];
}

/** A running broker. */
export class NatsServer {
  readonly port: number;
  /** Its HTTP monitoring port. */
  readonly monitorPort: number;
  readonly url: string;
  readonly #binary: string;
  #child: ChildProcess | null = null;

  private constructor(binary: string, port: number, monitorPort: number) {
    this.#binary = binary;
    this.port = port;
    this.monitorPort = monitorPort;
    this.url = `nats://127.0.0.1:${port}`;
  }

  /** Starts a broker on a free loopback port; resolves once it accepts clients. */
  static async start(): Promise<NatsServer> {
    const server = new NatsServer(natsServerBinary(), await freePort(), await freePort());
    await server.#launch();
    return server;
  }

  async #launch(): Promise<void> {
    const child = spawn(this.#binary, ['-a', '127.0.0.1', '-p', String(this.port), '-m', String(this.monitorPort)], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.#child = child;
    let log = '';
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer): void => {
        log += chunk.toString();
        if (log.includes('Server is ready')) {
          child.stderr?.off('data', onData);
          resolve();
        }
      };
      child.stderr?.on('data', onData);
      child.once('exit', (code) => reject(new Error(`nats-server exited (${String(code)}) before it was ready:\n${log}`)));
    });
    child.stderr?.resume();
  }

  /** Stops the broker and waits for its exit. */
  async stop(): Promise<void> {
    const child = this.#child;
    this.#child = null;
    if (child === null || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    await exited;
  }

  /** The client connections open now, with their subscriptions. */
  async clients(): Promise<BrokerClient[]> {
    const response = await fetch(`http://127.0.0.1:${this.monitorPort}/connz?subs=1`);
    const body = (await response.json()) as { connections?: Array<{ name?: string; subscriptions_list?: string[] }> };
    return (body.connections ?? []).map((c) => ({ name: c.name ?? '', subscriptions: c.subscriptions_list ?? [] }));
  }

  /** Stops it, waits `downMs`, and starts it again on the same port. */
  async restart(downMs: number): Promise<void> {
    await this.stop();
    await new Promise((resolve) => setTimeout(resolve, downMs));
    await this.#launch();
  }
}
