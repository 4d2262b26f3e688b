/**
 * IPC messages between the parent (ProcessEngine: front end and scheduler) and the serving
 * processes it forks (prefill and decode roles). Plain data only (the IPC channel uses structured-clone
 * 'advanced' serialization). KV bytes never travel here: they go over a socket with KvTransferSender /
 * KvTransferReceiver; a request is matched to its KV by `sequenceId`.
 */
import type { EngineBackend } from '../engine-options.js';
import type { ClientMsg, ServingActorStats, WireRequest } from '../protocol.js';
import type { PoolStats } from '@baton/kv-cache';

/** Which serving role a process plays. */
export type ProcessRole = 'prefill' | 'decode';

/** Everything a serving process needs at start. */
export interface ProcessInit {
  role: ProcessRole;
  /** Index within its role. */
  index: number;
  /** `prefill-0`, `decode-1`... */
  name: string;
  model: string;
  backend: Exclude<EngineBackend, 'auto'>;
  chunkSize: number;
  maxBatch: number;
  kv: { blockSize: number; numBlocks: number };
  /** A handed-off sequence whose KV has not arrived after this long fails. */
  handoffTimeoutMs: number;
  /** Decode processes in the deployment (a prefill process listens for one KV link from each). */
  decodeCount: number;
  /** OS nice value the process sets on start (engine option prefillNice, for prefill); null leaves it. */
  nice: number | null;
}

/** Parent → child. */
export type ToProcess =
  | { type: 'init'; init: ProcessInit }
  /** Prefill: compute the prompt, emit the first token, stream the KV to decode `decode`. */
  | { type: 'prefill'; request: WireRequest; sequenceId: number; decode: number }
  /**
   * Decode: prefill process `index` streams KV to this process over the link it accepts at `port`
   * (sent again after either side restarts). NOTE: the decode side dials so that its receiver
   * reads KV payloads straight into its pool (KvTransferReceiver `connect`).
   */
  | { type: 'prefillPort'; index: number; port: number }
  /** Decode: expect sequence `sequenceId` for `request`; its first token comes with `prefilled`. */
  | { type: 'expect'; request: WireRequest; sequenceId: number }
  /** Decode: the first token (from the prefill process, relayed by the parent). */
  | { type: 'prefilled'; requestId: string; firstToken: number; finished: boolean; time: number }
  | { type: 'abort'; requestId: string }
  | { type: 'stats'; ask: number }
  | { type: 'shutdown' };

/** Child → parent. */
export type FromProcess =
  /** Model loaded; a prefill process lists the port where decode process i links (`kvPorts[i]`); decode: []. */
  | { type: 'ready'; kvPorts: number[]; backend: string }
  /** Token, timing and finish messages for the client side (same shapes as the in-process engine's). */
  | { type: 'client'; msg: ClientMsg }
  /** Prefill: the first token, to relay to the decode process. */
  | { type: 'prefilled'; requestId: string; firstToken: number; finished: boolean; time: number; decode: number }
  | { type: 'stats'; ask: number; stats: ServingActorStats; pool: PoolStats }
  | { type: 'fatal'; message: string };
