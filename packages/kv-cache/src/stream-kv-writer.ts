/**
 * Writer of a 'stream' KV channel: one sequence opened on a KvTransferSender whose connection
 * goes to the decode side's KvEndpoint. `publishLayer(i)` writes layer i's frames at once, so the
 * endpoint verifies and publishes layer i while the prefill side computes layer i+1.
 *
 * Invariants: the writer holds its own reference on each of the sequence's blocks from open until
 * its verdict settles (acked, rejected, aborted, timed out, connection lost), then drops them
 * exactly once; the caller's table may be released at any time.
 */
import type { BlockPool } from './block-pool.js';
import { HandoffCancelledError, KvArgumentError, TransferError, TransferTimeoutError } from './errors.js';
import type { KvTicket, KvWriter, OpenKvWriterOptions } from './kv-channel.js';
import { DEFAULT_CHANNEL_DEADLINE_MS } from './shared-kv-channel.js';
import type { KvTransferSender, OutgoingSequence } from './transfer-sender.js';

/** Where a stream writer is opened: its pool, a connected (or connecting) sender, ids. */
export interface StreamWriterPlacement {
  readonly pool: BlockPool;
  readonly sender: KvTransferSender;
  /** Per-connection u32 id of the sequence on the wire. */
  readonly wireId: number;
  /** Unique channel id the endpoint matches the sequence by. */
  readonly channelId: string;
}

/** Writer of a stream channel; see KvWriter. */
export class StreamKvWriter implements KvWriter {
  readonly kind = 'stream' as const;
  readonly ticket: KvTicket;
  readonly done: Promise<void>;
  readonly #outgoing: OutgoingSequence;
  readonly #name: string;

  constructor(placement: StreamWriterPlacement, options: OpenKvWriterOptions) {
    const { pool, sender, wireId, channelId } = placement;
    const { table, tokenCount } = options;
    const deadlineMs = options.deadlineMs ?? DEFAULT_CHANNEL_DEADLINE_MS;
    const blockIds = table.blockIds.slice(0, Math.ceil(tokenCount / pool.geometry.blockSize));
    this.#name = options.sequenceId ?? channelId;
    pool.retain(blockIds);
    try {
      this.#outgoing = sender.open({ sequenceId: wireId, blockIds, tokenCount, key: channelId, deadlineMs, insert: options.insert });
    } catch (error) {
      pool.release(blockIds);
      throw error;
    }
    this.ticket = { kind: 'stream', tokenCount, channelId, deadlineMs };
    const timer = setTimeout(() => {
      this.#outgoing.abort(new TransferTimeoutError(`KV channel ${this.#name}: not acknowledged within its ${deadlineMs} ms deadline`));
    }, deadlineMs);
    timer.unref();
    this.done = this.#outgoing.verdict.finally(() => {
      clearTimeout(timer);
      pool.release(blockIds);
    });
    this.done.catch(() => undefined);
  }

  get layersWritten(): number {
    return this.#outgoing.layersWritten;
  }

  publishLayer(layer: number): void {
    try {
      this.#outgoing.writeLayer(layer);
    } catch (error) {
      if (error instanceof KvArgumentError || !(error instanceof Error)) throw error;
      const cause = error instanceof TransferError ? error.message : String(error);
      throw new HandoffCancelledError(`KV channel ${this.#name}: publishLayer(${layer}) after the channel ended: ${cause}`, { cause: error });
    }
  }

  cancel(): boolean {
    return this.#outgoing.abort(new HandoffCancelledError(`KV channel ${this.#name}: cancelled by the writer`));
  }
}
