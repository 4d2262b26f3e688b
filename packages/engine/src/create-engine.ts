/**
 * createEngine: builds the KV pool, opens the cluster connection when one is asked for, spawns the
 * actors of the chosen mode and returns the Engine wired to the actor system's crash, restart and
 * escalation events.
 *
 * Invariant: when spawning fails, everything built so far (actor system, cluster connection, fault
 * flags) is shut down before the error is thrown.
 */
import { ActorSystem, type ActorRef } from '@baton/actors';
import { BlockPool } from '@baton/kv-cache';
import { defaultBackendName, describeModel, type BackendName } from '@baton/model';
import { resolveOptions, type EngineOptions, type EngineOptionsInput } from './engine-options.js';
import { InvalidOptionsError } from './errors.js';
import { createFaultFlags } from './fault-plan.js';
import type { ClientMsg } from './protocol.js';
import type { ElasticClientMsg } from './elastic-protocol.js';
import { spawnTopology } from './topology.js';
import { isElastic } from './elastic-options.js';
import { clusterEngineInput, openCluster, type ClusterOptions } from './cluster/engine-cluster.js';
import { Engine } from './engine.js';

/** Builds the KV pool, spawns the actors of `options.mode` and returns the engine. */
export async function createEngine(input: EngineOptionsInput & { cluster?: ClusterOptions } = {}): Promise<Engine> {
  // NOTE: anything but a plain object is refused by resolveOptions before it is taken apart below.
  if (typeof input !== 'object' || input === null || Array.isArray(input)) resolveOptions(input);
  // NOTE: with `cluster`, prefill and decode actors run on the workers registered through NATS.
  const { cluster: clusterInput, ...plain } = input;
  const cluster = clusterInput === undefined ? null : await openCluster(clusterInput, resolveOptions(plain).model);
  const options = resolveOptions(cluster === null ? plain : clusterEngineInput(plain, cluster));
  const { config, tokenizer } = describeModel(options.model);
  const backend: BackendName = options.backend === 'auto' ? defaultBackendName() : options.backend;
  const pool = BlockPool.create({
    blockSize: options.kv.blockSize,
    layers: config.nLayer,
    heads: config.nHead,
    headDim: config.nEmbd / config.nHead,
    totalBlocks: options.kv.numBlocks,
    maxOwners: servingActorCount(options),
    handoffSlots: Math.max(64, options.maxBatch * options.decode * 2),
  });
  const reserved = reserveBlocks(pool, options.faults.reserveKvBlocks);
  const system = new ActorSystem(cluster === null ? undefined : { remote: cluster.hosts });
  let engine: Engine | null = null;
  const client: ActorRef<ClientMsg> = system.inbox<ClientMsg>((msg) => engine?.deliver(msg), { name: 'client' });
  const elasticHost = isElastic(options.elastic) && options.mode === 'disaggregated'
    ? system.inbox<ElasticClientMsg>((msg) => engine?.deliverElastic(msg), { name: 'elastic-host' })
    : null;
  const setup = { model: options.model, chunkSize: options.prefillChunkSize };
  const faultFlags = createFaultFlags(options.faults, usesProcesses(options));
  try {
    const topology = await spawnTopology({ system, options, setup, pool, client, elasticHost, faultFlags: faultFlags.flags, remote: cluster !== null });
    cluster?.attach(topology, system);
    engine = new Engine({ options, config, backend, system, topology, tokenizer, pool, reserved, disposeFaultFlags: faultFlags.dispose, afterShutdown: cluster?.close });
    const current = engine;
    system.events.on('crashed', (e) => current.actorCrashed(e.name, e.cause, e.willRestart));
    system.events.on('escalated', (e) => current.actorEscalated(e.name, e.cause));
    system.events.on('restarted', (e) => {
      // NOTE: a restarted scheduler is constructed from its init alone; its routing refs come by message.
      // NOTE: a restarted scheduler is given back the roles instances serve now (after flips), once it has its refs.
      if (e.name === 'scheduler') void topology.rewire().then(() => current.restoreRoles(), () => undefined);
      current.actorRestarted(e.name);
    });
    return engine;
  } catch (e) {
    await system.shutdown();
    await cluster?.close();
    faultFlags.dispose();
    throw e;
  }
}

/** Fault injection: takes `n` blocks out of the pool until close. */
function reserveBlocks(pool: BlockPool, n: number): number[] {
  if (n === 0) return [];
  const ids = pool.allocate(n);
  if (ids === null) throw new InvalidOptionsError('faults.reserveKvBlocks', `${n} exceeds the pool (${pool.stats().free} blocks free)`);
  return ids;
}

/** True when any actor of `o` runs in a child process. */
function usesProcesses(o: EngineOptions): boolean {
  return Object.values(o.placement).some((p) => p === 'process');
}

/** Model-running actors of a mode (each gets a pool owner id). */
function servingActorCount(o: EngineOptions): number {
  // NOTE: an elastic instance holds a prefill and a decode actor; live instances are bounded by elastic.maxInstances.
  if (o.mode === 'disaggregated') return isElastic(o.elastic) ? 2 * o.elastic.maxInstances : o.prefill + o.decode;
  return o.mode === 'single' ? 1 : o.colocated;
}
