/**
 * `baton worker --nats URL --role prefill|decode [--count N] [--model DIR|NAME] [--backend B]
 * [--node-id ID] [--heartbeat-ms N] [--slots N] [--listen-host H] [--kv-host H]
 * [--advertise-host H]`: starts this host's serving workers. Each worker
 * is one process that registers with the cluster through NATS (its heartbeat carries role, model
 * id, backend and capacity) and hosts the prefill or decode actors a `baton serve --nats URL`
 * scheduler places on it. `--count N` starts N worker processes (children of this one, ids
 * `<node-id>-<i>`), all stopped with it on SIGINT/SIGTERM. A worker refused by the scheduler (its
 * model differs) exits with status 1 and the reason. `--backend` is the backend its actors run;
 * the host flags say where its sockets listen and what other hosts connect to (cluster-hosts.ts).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { hostname } from 'node:os';
import { DEFAULT_MODEL, defaultBackendName, parseBackendName } from '@baton/model';
import { startClusterWorker, type WorkerRole } from '@baton/engine';
import { CliError, parseNumber } from './cli-error.js';
import { applyClusterHosts } from './cluster-hosts.js';
import { parseCommandArgs } from './command-args.js';

/** Usage of the command. */
export const WORKER_USAGE =
  'usage: baton worker --nats URL --role prefill|decode [--count N] [--model DIR|NAME] [--backend B] [--node-id ID] [--heartbeat-ms N] [--slots N] [--listen-host H] [--kv-host H] [--advertise-host H]';

/** How long a worker that ended may take to exit on its own before it is made to. */
const EXIT_GRACE_MS = 2_000;

const WORKER_OPTIONS = {
  nats: { type: 'string' },
  role: { type: 'string' },
  count: { type: 'string' },
  model: { type: 'string' },
  backend: { type: 'string' },
  'node-id': { type: 'string' },
  'heartbeat-ms': { type: 'string' },
  slots: { type: 'string' },
  'listen-host': { type: 'string' },
  'kv-host': { type: 'string' },
  'advertise-host': { type: 'string' },
} as const;

/** Runs the workers until a signal (or a refusal); `write` gets the status lines. */
export async function workerCommand(args: string[], write: (text: string) => void): Promise<string | { exitCode: number }> {
  const v = parseCommandArgs(WORKER_OPTIONS, args);
  if (v.nats === undefined) throw new CliError(`--nats URL is required\n${WORKER_USAGE}`);
  if (v.role !== 'prefill' && v.role !== 'decode') throw new CliError(`--role must be prefill or decode, got ${JSON.stringify(v.role)}\n${WORKER_USAGE}`);
  const role: WorkerRole = v.role;
  const count = parseNumber(v.count, '--count', { min: 1, max: 64, integer: true, fallback: 1 });
  const backend = parseBackendName(v.backend ?? defaultBackendName(), '--backend');
  const hosts = applyClusterHosts({ listenHost: v['listen-host'], kvHost: v['kv-host'], advertiseHost: v['advertise-host'] });
  const nodeId = v['node-id'] ?? `${hostname().replace(/[^A-Za-z0-9_-]/g, '_')}-${role}-${process.pid}`;
  if (count > 1) return runChildren(args, count, nodeId, write);
  const heartbeatMs = parseNumber(v['heartbeat-ms'], '--heartbeat-ms', { min: 10, max: 60_000, integer: true, fallback: 500 });
  const slots = parseNumber(v.slots, '--slots', { min: 1, max: 64, integer: true, fallback: 1 });
  const worker = await startClusterWorker({
    nats: v.nats, role, model: v.model ?? DEFAULT_MODEL, backend, nodeId, heartbeatMs, slots, kvHost: hosts.kvHost, advertiseHost: hosts.advertiseHost ?? undefined,
  });
  const at = hosts.advertiseHost === null ? '' : ` · at ${hosts.advertiseHost}`;
  write(`baton worker: ${worker.nodeId} registered · role ${role} · model ${v.model ?? DEFAULT_MODEL} · backend ${backend}${at} · pid ${process.pid}\n`);
  const signal = new Promise<null>((resolve) => {
    process.once('SIGINT', () => resolve(null));
    process.once('SIGTERM', () => resolve(null));
  });
  const reason = await Promise.race([worker.ended, signal]);
  await worker.close();
  // NOTE: a worker that was told to end (fenced, refused, a signal) ends now, even if a socket or
  // a backend thread of its ended actors would keep the process up a while longer.
  setTimeout(() => process.exit(reason === null ? 0 : 1), EXIT_GRACE_MS).unref();
  if (reason !== null) {
    write(`baton worker: ${worker.nodeId}: ${reason.message}\n`);
    return { exitCode: 1 };
  }
  return `baton worker: ${worker.nodeId} stopped`;
}

/** `--count N`: N children with `--count 1` and ids `<nodeId>-<i>`; ends them all on a signal. */
async function runChildren(args: string[], count: number, nodeId: string, write: (text: string) => void): Promise<{ exitCode: number }> {
  const entry = process.argv[1];
  if (entry === undefined) throw new CliError('cannot find the baton entry point to start workers');
  const base = stripFlags(args, ['--count', '--node-id']);
  const children: ChildProcess[] = Array.from({ length: count }, (_, i) =>
    fork(entry, ['worker', ...base, '--count', '1', '--node-id', `${nodeId}-${i}`], { stdio: 'inherit' }),
  );
  const stop = (): void => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const codes = await Promise.all(children.map((child) => new Promise<number>((resolve) => child.once('exit', (code) => resolve(code ?? 1)))));
  write(`baton worker: ${count} workers stopped\n`);
  return { exitCode: Math.max(...codes) };
}

function stripFlags(args: string[], flags: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    const name = arg.split('=')[0] as string;
    if (flags.includes(name)) {
      if (!arg.includes('=')) i++;
      continue;
    }
    out.push(arg);
  }
  return out;
}
