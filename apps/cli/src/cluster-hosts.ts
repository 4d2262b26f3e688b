/**
 * The socket hosts of a cluster process (`baton worker`, `baton serve --nats`): `--listen-host`
 * (the interface its sockets listen on) and `--advertise-host` (the address other hosts connect
 * to). Without either, a process serves on local sockets and loopback, reachable from this host
 * only. With either, actor messages go over TCP (BATON_ACTORS_TCP_HOST / _ADVERTISE_HOST, read by
 * every wire node this process and its threads start) and KV endpoints listen there too.
 * Invariant: applied before anything listens (the first actor or engine starts after it).
 */
import { CliError } from './cli-error.js';

/** The hosts a cluster process listens on and advertises. */
export interface ClusterHosts {
  /** Interface of the KV endpoints (decode workers). */
  readonly kvHost: string;
  /** What other hosts connect to, or null (loopback only). */
  readonly advertiseHost: string | null;
}

const HOST = /^[A-Za-z0-9._:-]{1,253}$/;

function checkHost(value: string | undefined, flag: string): string | undefined {
  if (value !== undefined && !HOST.test(value)) throw new CliError(`${flag}: expected a host name or IP address, got ${JSON.stringify(value)}`);
  return value;
}

/** Validates the flags and points this process's actor sockets at them; returns the KV endpoint hosts. */
export function applyClusterHosts(flags: { listenHost?: string; kvHost?: string; advertiseHost?: string }): ClusterHosts {
  const listen = checkHost(flags.listenHost, '--listen-host');
  const advertise = checkHost(flags.advertiseHost, '--advertise-host');
  const kv = checkHost(flags.kvHost, '--kv-host');
  if (advertise === '0.0.0.0' || advertise === '::') throw new CliError(`--advertise-host: ${advertise} is a wildcard; give the address other hosts reach this one at`);
  // NOTE: advertising an address only makes sense on an interface others reach: all of them by default.
  const bind = listen ?? (advertise === undefined ? undefined : '0.0.0.0');
  if (bind !== undefined) process.env.BATON_ACTORS_TCP_HOST = bind;
  if (advertise !== undefined) process.env.BATON_ACTORS_ADVERTISE_HOST = advertise;
  return { kvHost: kv ?? bind ?? '127.0.0.1', advertiseHost: advertise ?? null };
}
