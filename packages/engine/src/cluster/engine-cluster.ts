/**
 * `openCluster`: the engine's side of a NATS cluster (`createEngine({ cluster: { nats } })`). It
 * connects to the broker, watches the workers (`ClusterRegistry`) and their nodes
 * (`NatsRemoteHosts`, which declares a silent node dead after `deadAfterMs`), waits until enough
 * workers of each role registered, and says how many prefill and decode actors to place on them;
 * once serving (`attach`), workers that register later get actors of their own (ClusterGrowth).
 * Invariants: KV never goes through the broker (decode actors stream it from prefill actors over
 * their own TCP endpoint); `close()` ends the subscriptions and the connection, after the engine's
 * actor system released its remote hosts.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { DEFAULT_SUBJECT_PREFIX, NatsRemoteHosts } from '@baton/actors';
import type { EngineOptionsInput } from '../engine-options.js';
import { EngineError, InvalidOptionsError } from '../errors.js';
import type { ActorSystem } from '@baton/actors';
import type { Topology } from '../topology.js';
import { ClusterGrowth } from './cluster-growth.js';
import { ClusterRegistry } from './cluster-registry.js';
import type { WorkerRole } from './worker-registration.js';

/** `createEngine`'s `cluster` option. */
export interface ClusterOptions {
  /** Broker URL(s), e.g. `nats://10.0.0.5:4222`. */
  readonly nats: string | readonly string[];
  /** Subject prefix (default 'baton'). */
  readonly prefix?: string;
  /** Prefill / decode actors to place (default: every slot of the workers registered at start). */
  readonly prefill?: number;
  readonly decode?: number;
  /** How long to wait for the workers at start (default 15 000 ms). */
  readonly waitMs?: number;
  /** A worker node silent this long is declared dead (default 3 000 ms). */
  readonly deadAfterMs?: number;
  /** Where refusals, deaths and malformed messages are reported (default console.warn). */
  readonly log?: (message: string) => void;
}

/** The broker or the workers are not there (yet): retry later. */
export class ClusterUnavailableError extends EngineError {
  readonly retryable = true;
}

/** A connected cluster, ready to place actors. */
export interface EngineCluster {
  readonly connection: NatsConnection;
  readonly hosts: NatsRemoteHosts;
  readonly registry: ClusterRegistry;
  readonly prefill: number;
  readonly decode: number;
  /** Starts serving `topology`: workers that join from now on get actors (ClusterGrowth). */
  attach(topology: Pick<Topology, 'grow' | 'resendDecoders'>, system: ActorSystem): void;
  close(): Promise<void>;
}

function count(value: unknown, option: string): number | null {
  if (value === undefined) return null;
  if (!Number.isInteger(value) || (value as number) < 1) throw new InvalidOptionsError(option, 'expected a positive integer');
  return value as number;
}

/** Connects, waits for workers, and returns the cluster; throws `ClusterUnavailableError` or `InvalidOptionsError`. */
export async function openCluster(options: ClusterOptions, model: string): Promise<EngineCluster> {
  const servers = typeof options.nats === 'string' ? [options.nats] : options.nats;
  if (!Array.isArray(servers) || servers.length === 0 || !servers.every((s) => typeof s === 'string' && s.length > 0)) {
    throw new InvalidOptionsError('cluster.nats', 'expected a broker URL or a non-empty list of them');
  }
  const wantPrefill = count(options.prefill, 'cluster.prefill');
  const wantDecode = count(options.decode, 'cluster.decode');
  const waitMs = options.waitMs ?? 15_000;
  const prefix = options.prefix ?? DEFAULT_SUBJECT_PREFIX;
  const log = options.log ?? ((message: string) => console.warn(`[cluster] ${message}`));
  let connection: NatsConnection;
  try {
    connection = await connect({ servers: [...servers], name: 'baton-scheduler', maxReconnectAttempts: -1, reconnectTimeWait: 250, timeout: Math.min(waitMs, 5_000) });
  } catch (error) {
    throw new ClusterUnavailableError(`cannot reach the NATS broker at ${servers.join(', ')}: ${(error as Error).message} (start nats-server, then retry)`);
  }
  const registry = new ClusterRegistry({ connection, prefix, model, log });
  const hosts = new NatsRemoteHosts({ connection, prefix, deadAfterMs: options.deadAfterMs, log, select: (a, live, load) => registry.select(a, live, load) });
  let growth: ClusterGrowth | null = null;
  const attach = (topology: Pick<Topology, 'grow' | 'resendDecoders'>, system: ActorSystem): void => {
    growth?.close();
    growth = new ClusterGrowth({ registry, hosts, topology, system, log });
  };
  const close = async (): Promise<void> => {
    growth?.close();
    await hosts.close();
    registry.close();
    if (!connection.isClosed()) await connection.close();
  };
  try {
    await Promise.all([registry.ready(), hosts.ready()]);
    const slots = (role: WorkerRole): number => registry.workers(role, hosts.live).reduce((n, w) => n + w.registration.capacity.slots, 0);
    const enough = (): boolean => slots('prefill') >= (wantPrefill ?? 1) && slots('decode') >= (wantDecode ?? 1);
    const deadline = Date.now() + waitMs;
    while (!enough()) {
      if (Date.now() > deadline) {
        throw new ClusterUnavailableError(
          `not enough workers after ${waitMs} ms: ${slots('prefill')} prefill and ${slots('decode')} decode slots registered for model '${model}', ` +
            `need ${wantPrefill ?? 1} and ${wantDecode ?? 1} (start them with \`baton worker --nats URL --role prefill|decode\`)`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    if (wantPrefill === null || wantDecode === null) {
      // NOTE: without fixed counts every worker that registers within one more heartbeat window joins.
      await new Promise((resolve) => setTimeout(resolve, 600));
    }
    return { connection, hosts, registry, prefill: wantPrefill ?? slots('prefill'), decode: wantDecode ?? slots('decode'), attach, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** The engine options for serving on `cluster`: disaggregated, prefill and decode on remote workers with their own pools. */
export function clusterEngineInput(input: EngineOptionsInput, cluster: Pick<EngineCluster, 'prefill' | 'decode'>): EngineOptionsInput {
  if (input.mode !== undefined && input.mode !== 'disaggregated') {
    throw new InvalidOptionsError('mode', `a cluster serves mode 'disaggregated', got ${JSON.stringify(input.mode)}`);
  }
  const p = input.placement;
  const control = typeof p === 'string' ? { scheduler: p, predictor: p } : { scheduler: p?.scheduler, predictor: p?.predictor };
  // NOTE: 'process' here means "an own pool, KV over the transfer stream"; the topology spawns
  // these roles with placement 'remote' on the cluster's workers.
  return { ...input, mode: 'disaggregated', prefill: cluster.prefill, decode: cluster.decode, placement: { ...control, prefill: 'process', decode: 'process' } };
}
