/**
 * `baton serve [--port 8000] [--host 127.0.0.1] [--model DIR|NAME] [--mode M] [--prefill N]
 * [--decode M] [--colocated N] [--backend B]`: a thin wrapper over @baton/server's createServer.
 * Serves until SIGINT/SIGTERM, then shuts down gracefully (new requests get 503, in-flight ones
 * may finish until `--shutdown-deadline-ms`, the rest are aborted, every actor stops) and returns,
 * so the process exits 0. A second signal while shutting down exits at once with status 1.
 * `--processes` runs each prefill and decode role in its own OS process (ProcessEngine); process
 * exits and restarts are reported on stderr. `--processes --demo [--requests N]` runs the live
 * multi-process demo instead of serving HTTP.
 */
import { parseArgs } from 'node:util';
import { createProcessEngine, type ProcessEngine } from '@baton/engine';
import { createServer, type BatonServer } from '@baton/server';
import { parseNumber } from './cli-error.js';
import { CliError } from './cli-error.js';
import { ENGINE_OPTIONS, engineOptionsFromFlags, parseMode } from './engine-flags.js';
import { runProcessDemo } from './process-demo.js';

/** One-line usage of the command. */
export const SERVE_USAGE =
  'baton serve [--port 8000] [--host 127.0.0.1] [--model DIR|NAME] [--mode single|disaggregated|colocated|chunked] [--prefill P] [--decode D] [--colocated N] [--backend B] [--shutdown-deadline-ms MS] [--processes [--demo] [--requests N]]';

const OPTIONS = {
  ...ENGINE_OPTIONS,
  model: { type: 'string' },
  backend: { type: 'string' },
  port: { type: 'string' },
  host: { type: 'string' },
  'shutdown-deadline-ms': { type: 'string' },
  processes: { type: 'boolean' },
  demo: { type: 'boolean' },
  requests: { type: 'string' },
} as const;

/** Runs the server until a shutdown signal; `write` gets the status lines. */
export async function serveCommand(args: string[], write: (text: string) => void): Promise<string> {
  const { values: v } = parseArgs({ args, options: OPTIONS, strict: true, allowPositionals: false });
  const mode = parseMode(v.mode, 'disaggregated');
  const engineOptions = engineOptionsFromFlags(v, mode, { prefill: 1, decode: 1, colocated: 2 });
  const port = parseNumber(v.port, '--port', { min: 0, max: 65_535, integer: true, fallback: 8000 });
  const host = v.host ?? '127.0.0.1';
  const shutdownDeadlineMs = parseNumber(v['shutdown-deadline-ms'], '--shutdown-deadline-ms', { min: 0, integer: true, fallback: 10_000 });
  if (v.demo === true && v.processes !== true) throw new CliError('--demo: applies to --processes only (the in-process demo is `baton demo`)');
  const processEngine = v.processes === true ? await startProcessEngine(engineOptions, write) : null;
  if (processEngine !== null && v.demo === true) {
    const requests = parseNumber(v.requests, '--requests', { min: 1, max: 200, integer: true, fallback: 12 });
    try {
      return await runProcessDemo(processEngine, { requests, write });
    } finally {
      await processEngine.close({ deadlineMs: 0 });
    }
  }
  const server = await createServer({ engineOptions, shutdownDeadlineMs, ...(processEngine === null ? {} : { engine: processEngine }) });
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

async function startProcessEngine(options: Parameters<typeof createProcessEngine>[0], write: (text: string) => void): Promise<ProcessEngine> {
  const engine = await createProcessEngine(options);
  engine.events.on('process', (e) => process.stderr.write(`baton serve: process ${e.name} ${e.type}: ${e.detail}\n`));
  write(`baton serve: processes ${engine.processes().map((p) => `${p.name}=${p.pid}`).join(' ')} (scheduler in pid ${process.pid})\n`);
  return engine;
}

function describe(server: BatonServer): string {
  const o = server.engine.options;
  const layout = o.mode === 'disaggregated' ? `${o.prefill} prefill + ${o.decode} decode` : o.mode === 'single' ? '1 actor' : `${o.colocated} actors`;
  return `${o.mode} (${layout}) on ${server.engine.backend}`;
}

/** Resolves once a SIGINT/SIGTERM-triggered shutdown completed. */
function untilSignal(server: BatonServer, write: (text: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      if (server.closing) {
        write(`baton serve: ${signal} again, exiting now\n`);
        process.exit(1);
      }
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
