/**
 * `baton serve [--port 8000] [--host 127.0.0.1] [--model DIR|NAME] [--mode M] [--prefill N]
 * [--decode M] [--colocated N] [--backend B]`: a thin wrapper over @baton/server's createServer.
 * Serves until SIGINT/SIGTERM, then shuts down gracefully (new requests get 503, in-flight ones
 * may finish until `--shutdown-deadline-ms`, the rest are aborted, every actor stops) and returns,
 * so the process exits 0. A second signal while shutting down exits at once with status 1.
 * `--api-key KEY` (or BATON_API_KEY) requires `Authorization: Bearer KEY`; a `--host` beyond
 * loopback prints a warning and needs a key unless `--insecure`. `--headers-timeout-ms`,
 * `--body-timeout-ms`, `--idle-timeout-ms` and `--max-connections` bound what clients can hold.
 * `--nats URL` serves with the prefill and decode workers registered on that broker (`baton worker`);
 * with workers on other hosts, `--listen-host` / `--advertise-host` make its actors reachable.
 * `--placement process` (or `--processes`) runs each prefill and decode actor in its own OS process
 * (named `--role R --index I` on its command line) with the same scheduler and policies.
 */
import { createServer, DEFAULT_SERVER_OPTIONS, isLoopbackHost, type BatonServer, type ServerOptions } from '@baton/server';
import { createEngine } from '@baton/engine';
import { parseNumber } from './cli-error.js';
import { applyClusterHosts } from './cluster-hosts.js';
import { parseCommandArgs } from './command-args.js';
import { CliError } from './cli-error.js';
import { ENGINE_OPTIONS, engineOptionsFromFlags, parseMode } from './engine-flags.js';

/** The flags the command parses (its help page is SERVE_HELP in help-pages.ts). */
export const SERVE_OPTIONS = {
  ...ENGINE_OPTIONS,
  model: { type: 'string' },
  backend: { type: 'string' },
  port: { type: 'string' },
  host: { type: 'string' },
  'shutdown-deadline-ms': { type: 'string' },
  'api-key': { type: 'string' },
  insecure: { type: 'boolean' },
  'headers-timeout-ms': { type: 'string' },
  'body-timeout-ms': { type: 'string' },
  'idle-timeout-ms': { type: 'string' },
  'max-connections': { type: 'string' },
  nats: { type: 'string' },
  'listen-host': { type: 'string' },
  'advertise-host': { type: 'string' },
} as const;

/** Runs the server until a shutdown signal; `write` gets the status lines. */
export async function serveCommand(args: string[], write: (text: string) => void): Promise<string> {
  const v = parseCommandArgs(SERVE_OPTIONS, args);
  const mode = parseMode(v.mode, 'disaggregated');
  const engineOptions = engineOptionsFromFlags(v, mode, { prefill: 1, decode: 1, colocated: 2 });
  const port = parseNumber(v.port, '--port', { min: 0, max: 65_535, integer: true, fallback: 8000 });
  const host = v.host ?? '127.0.0.1';
  const shutdownDeadlineMs = parseNumber(v['shutdown-deadline-ms'], '--shutdown-deadline-ms', { min: 0, integer: true, fallback: 10_000 });
  const access = accessOptions(v, host);
  // NOTE: `--nats URL`: prefill and decode actors run on the workers registered there (`baton worker`).
  if (v.nats === undefined && (v['listen-host'] !== undefined || v['advertise-host'] !== undefined)) {
    throw new CliError('--listen-host and --advertise-host apply to a cluster: give --nats URL too');
  }
  if (v.nats !== undefined) applyClusterHosts({ listenHost: v['listen-host'], advertiseHost: v['advertise-host'] });
  const engine = v.nats === undefined ? undefined : await createEngine({ ...engineOptions, cluster: { nats: v.nats } });
  const server = await createServer({ engineOptions, engine, shutdownDeadlineMs, ...access });
  const stopped = untilSignal(server, write);
  try {
    const url = await server.listen({ host, port });
    write(`baton serve: listening on ${url} · model ${server.modelName} · ${describe(server)}\n`);
  } catch (e) {
    await server.close();
    throw e;
  }
  await stopped;
  return 'baton serve: stopped';
}

/** The server's access and connection options from the flags; warns about a non-loopback host. */
function accessOptions(v: { [k: string]: string | boolean | undefined }, host: string): Partial<ServerOptions> {
  const flag = (name: string): string | undefined => (typeof v[name] === 'string' ? (v[name] as string) : undefined);
  const apiKey = flag('api-key') ?? (process.env.BATON_API_KEY === '' ? undefined : process.env.BATON_API_KEY) ?? null;
  if (apiKey !== null && /\s/.test(apiKey)) throw new CliError('--api-key: must not contain whitespace');
  const insecure = v.insecure === true;
  if (!isLoopbackHost(host)) {
    if (apiKey === null && !insecure) {
      throw new CliError(`--host ${host}: other machines can reach this address; set an API key (--api-key or BATON_API_KEY), or pass --insecure to serve without one`);
    }
    process.stderr.write(`baton serve: warning: --host ${host} is reachable from other machines${apiKey === null ? ' and no API key is set (--insecure)' : ''}\n`);
  }
  const ms = (name: string, fallback: number): number => parseNumber(flag(name), `--${name}`, { min: 1, integer: true, fallback });
  const d = DEFAULT_SERVER_OPTIONS;
  const headersTimeoutMs = ms('headers-timeout-ms', d.headersTimeoutMs);
  return {
    apiKey,
    insecure,
    headersTimeoutMs,
    bodyTimeoutMs: ms('body-timeout-ms', Math.max(d.bodyTimeoutMs, headersTimeoutMs)),
    idleTimeoutMs: ms('idle-timeout-ms', d.idleTimeoutMs),
    maxConnections: ms('max-connections', d.maxConnections),
  };
}

function describe(server: BatonServer): string {
  const o = server.engine.options;
  const layout = o.mode === 'disaggregated' ? `${o.prefill} prefill + ${o.decode} decode` : o.mode === 'single' ? '1 actor' : `${o.colocated} actors`;
  const where = Object.values(o.placement).includes('process') ? ', actors in child processes' : '';
  return `${o.mode} (${layout}${where}) on ${server.engine.backend}`;
}

/**
 * NOTE: `npx`/`npm exec` forwards the terminal's SIGINT to its child, which (under a shell that
 * execs the command, as bash does) is this process: one Ctrl-C arrives twice within a few ms. The
 * same signal that soon after the first is that copy, not a second Ctrl-C.
 */
const DUPLICATE_SIGNAL_MS = 250;

/** Resolves once a SIGINT/SIGTERM-triggered shutdown completed. */
function untilSignal(server: BatonServer, write: (text: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    let first: { signal: NodeJS.Signals; at: number } | null = null;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (first !== null && signal === first.signal && performance.now() - first.at < DUPLICATE_SIGNAL_MS) return;
      if (server.closing) {
        write(`baton serve: ${signal} again, exiting now\n`);
        process.exit(1);
      }
      first = { signal, at: performance.now() };
      write(`baton serve: ${signal}, shutting down (draining in-flight requests)\n`);
      server.close().then(() => {
        process.removeListener('SIGINT', onSignal);
        process.removeListener('SIGTERM', onSignal);
        resolve();
      }, reject);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}
