/**
 * The KV channel: one handoff interface between a prefill side that writes a sequence's KV layer
 * by layer and a decode side that reads it layer by layer, then adopts it into its own table.
 * Two implementations, picked by the target's `kind`:
 * - 'shared': both sides attach the same BlockPool (threads of one process): block ids move
 *   through a handoff slot, no KV byte is copied (shared-kv-channel.ts);
 * - 'stream': the decode side's pool is elsewhere (another process or host): each layer is sent
 *   over TCP (or a Unix socket) to its KvEndpoint as soon as it is written, checksummed, into
 *   blocks of that pool (stream-kv-writer.ts, kv-endpoint.ts).
 * Every value here that crosses between the sides (targets, endpoint descriptors, tickets) is
 * plain cloneable data, so actors that share nothing but messages can pass it along.
 */
import type { BlockPool } from './block-pool.js';
import type { BlockTable, KvKind } from './block-table.js';
import { KvArgumentError } from './errors.js';
import type { HandoffDescriptor, WaitForLayerOptions } from './handoff.js';
import type { KvEndpoint } from './kv-endpoint.js';
import { SharedKvReader } from './shared-kv-channel.js';

/** Where a decode side's KvEndpoint accepts streams; published by it, passed to prefill sides. */
export type KvEndpointDescriptor =
  | { readonly transport: 'tcp'; readonly host: string; readonly port: number; readonly token: string }
  | { readonly transport: 'unix'; readonly path: string; readonly token: string };

/** Where a writer sends KV: into the writer's own (shared) pool, or to a decode side's endpoint. */
export type KvTarget = { readonly kind: 'shared' } | { readonly kind: 'stream'; readonly endpoint: KvEndpointDescriptor };

/** What the prefill side hands the decode side (in a message) so it can open the reader. */
export type KvTicket =
  | { readonly kind: 'shared'; readonly tokenCount: number; readonly handoff: HandoffDescriptor }
  | {
      readonly kind: 'stream';
      readonly tokenCount: number;
      /** Unique per writer; the endpoint matches the arriving sequence by it. */
      readonly channelId: string;
      /** The writer's deadline, or null: the reader's claim expires after it too. */
      readonly deadlineMs: number | null;
    };

/** Options of KvConnector.openWriter. */
export interface OpenKvWriterOptions {
  /** The sequence's blocks; the writer takes its own references, so the caller may release it any time. */
  readonly table: BlockTable;
  /** Tokens of KV the table holds once the last layer is written. */
  readonly tokenCount: number;
  /** Names the sequence in errors and handoff records (e.g. the request id). */
  readonly sequenceId?: string;
  /**
   * Cancel the channel (both sides' references dropped) unless the decode side adopted it within
   * this many ms. Default 30 s.
   */
  readonly deadlineMs?: number;
  /**
   * Transfer-with-insert: once every layer is there, the receiving side adopts the blocks itself
   * and registers them as a cached prefix of these tokens (its pool's prefix index, or its
   * KvMemPool), then releases them; no reader claims the ticket.
   */
  readonly insert?: readonly number[];
}

/** The prefill side of a channel. */
export interface KvWriter {
  readonly kind: KvTarget['kind'];
  /** Cloneable: send it to the decode side, which passes it to openKvReader. */
  readonly ticket: KvTicket;
  /** Layers written so far. */
  readonly layersWritten: number;
  /**
   * Declares `layer` fully written into the table (layers go 0, 1, ...). Shared: publishes it;
   * stream: sends it now (synchronously, so it may be called from a model's per-layer callback).
   * Throws HandoffCancelledError (its `cause`: the channel's failure) once the channel ended early.
   */
  publishLayer(layer: number): void;
  /** Abandons the channel; the decode side's waits reject. False when it already ended. */
  cancel(): boolean;
  /**
   * Resolves when the decode side holds every layer (shared: the last layer is published; stream:
   * the endpoint verified all of them). Rejects with the channel's failure (HandoffCancelledError,
   * TransferRejectedError with `reason`, TransferChecksumError, TransferPeerClosedError,
   * TransferTimeoutError); the writer's references are dropped exactly once either way.
   */
  readonly done: Promise<void>;
}

/** The decode side of a channel; also a read-only KV source for the model before adoption. */
export interface KvReader {
  readonly kind: KvTarget['kind'];
  readonly tokenCount: number;
  /** Layers that can be read now. */
  readonly layersReady: number;
  /**
   * Resolves once `layer` is here. Rejects with HandoffTimeoutError after `timeoutMs`,
   * HandoffCancelledError when cancelled by either side or `signal`, or the stream's
   * TransferError; giving up cancels the channel (nothing leaks).
   */
  waitForLayer(layer: number, options?: WaitForLayerOptions): Promise<void>;
  /** Reads rows of a layer that is here (see BlockTable.read). */
  read(layer: number, kind: KvKind, start: number, end: number, out: Float32Array): void;
  /** Takes the blocks into a table of the reader's pool (no copy). Needs every layer; once. */
  adopt(): BlockTable;
  /** Cancels the channel; the writer's `done` rejects. False when it already ended. */
  cancel(): boolean;
}

/** Options of openKvReader. */
export interface OpenKvReaderOptions {
  /** The decode side's pool (for 'shared': the same pool as the writer's, attached here). */
  readonly pool: BlockPool;
  /** Required for a 'stream' ticket: the endpoint whose descriptor the writer was given. */
  readonly endpoint?: KvEndpoint;
}

/** Opens the decode side of the channel a ticket describes. Throws KvArgumentError on a bad ticket. */
export function openKvReader(ticket: KvTicket, options: OpenKvReaderOptions): KvReader {
  if (ticket?.kind === 'shared') return new SharedKvReader(options.pool.acceptHandoff(ticket.handoff), ticket.tokenCount);
  if (ticket?.kind === 'stream') {
    if (options.endpoint === undefined) throw new KvArgumentError('openKvReader: a stream ticket needs options.endpoint');
    return options.endpoint.reader(ticket);
  }
  throw new KvArgumentError(`openKvReader: ticket.kind must be 'shared' or 'stream', got ${String((ticket as { kind?: unknown })?.kind)}`);
}

/** Checks a target's shape; returns it typed. Throws KvArgumentError naming the bad field. */
export function checkKvTarget(target: KvTarget): KvTarget {
  if (target?.kind === 'shared') return target;
  if (target?.kind !== 'stream') throw new KvArgumentError(`KvTarget.kind must be 'shared' or 'stream', got ${String((target as { kind?: unknown })?.kind)}`);
  const e = target.endpoint;
  if (typeof e?.token !== 'string') throw new KvArgumentError('KvTarget.endpoint.token must be a string');
  if (e.transport === 'tcp') {
    if (typeof e.host !== 'string' || e.host === '') throw new KvArgumentError('KvTarget.endpoint.host must be a non-empty string');
    if (!Number.isInteger(e.port) || e.port <= 0 || e.port > 65535) throw new KvArgumentError(`KvTarget.endpoint.port must be in 1..65535, got ${String(e.port)}`);
  } else if (e.transport === 'unix') {
    if (typeof e.path !== 'string' || e.path === '') throw new KvArgumentError('KvTarget.endpoint.path must be a non-empty string');
  } else {
    throw new KvArgumentError(`KvTarget.endpoint.transport must be 'tcp' or 'unix', got ${String((e as { transport?: unknown })?.transport)}`);
  }
  return target;
}
