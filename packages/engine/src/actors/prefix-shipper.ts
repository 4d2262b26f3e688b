/**
 * PrefixShipper: moves cached KV from this actor's pool into another instance's pool and registers
 * it there as a cached prefix in the same step (MemServe's transfer_with_insert), over the KV
 * stream to that instance's KvEndpoint. Two uses:
 *  - `sendCached`: the scheduler chose a prefill actor whose cache is shorter than ours and moving
 *    the difference beats recomputing it (Mooncake's transfer rule); whatever of the prefix our
 *    tiers still hold is sent (a stale tree entry sends less, or nothing), and the scheduler is
 *    told how many tokens arrived so the waiting prefill goes on;
 *  - `sendTable`: a finished turn's prompt + output KV goes back to the prefill actor that served
 *    it (decode returns KV), so the conversation's next turn reuses the reply too.
 *
 * Invariants: a shipment holds its own references until its verdict (the stream writer's), so the
 * caller may release its table at once; a failed shipment costs the receiver a recompute, never
 * a wrong token (it registers only blocks whose every layer arrived checksummed).
 */
import type { ActorRef } from '@baton/actors';
import { KvConnector, type BlockTable, type KvEndpointDescriptor, type KvMemPool } from '@baton/kv-cache';
import type { SchedulerMsg, SendPrefixMsg } from '../protocol.js';

/** A shipment that is not acknowledged within this long is abandoned (the receiver recomputes). */
const SHIP_DEADLINE_MS = 5_000;

/** Transfer-with-insert of cached prefixes from one actor's pool. */
export class PrefixShipper {
  #connector: KvConnector | null = null;
  #shipped = 0;
  #failed = 0;

  constructor(
    private readonly mem: KvMemPool,
    private readonly scheduler: ActorRef<SchedulerMsg>,
  ) {}

  /** Shipments acknowledged by the receiving side, and those that failed. */
  get counts(): { shipped: number; failed: number } {
    return { shipped: this.#shipped, failed: this.#failed };
  }

  /** Sends what this pool holds of `m.promptIds`' cached prefix to `m.to`, then tells the scheduler how many tokens arrived. */
  sendCached(m: SendPrefixMsg): void {
    void this.#sendCached(m).then((tokens) => this.scheduler.tell({ type: 'prefixSent', requestId: m.requestId, tokens }));
  }

  /** Sends `table`'s KV of `tokens` (every layer written) to `to`, to be cached there under those tokens. */
  sendTable(table: BlockTable, tokens: readonly number[], to: KvEndpointDescriptor): void {
    void this.#ship(table, tokens, to);
  }

  /** Closes the stream connections (shipments in flight fail; their receivers recompute). */
  close(): void {
    this.#connector?.close();
  }

  async #sendCached(m: SendPrefixMsg): Promise<number> {
    try {
      const match = await this.mem.match(m.promptIds);
      const tokens = m.promptIds.slice(0, match.cachedTokens);
      try {
        return tokens.length > 0 && (await this.#ship(match.table, tokens, m.to)) ? tokens.length : 0;
      } finally {
        match.table.release();
      }
    } catch {
      return 0;
    }
  }

  /** True once the receiving side holds every layer (and registers the blocks). */
  async #ship(table: BlockTable, tokens: readonly number[], to: KvEndpointDescriptor): Promise<boolean> {
    try {
      this.#connector ??= new KvConnector({ pool: this.mem.pool });
      const sent = this.mem.transfer(this.#connector, { kind: 'stream', endpoint: to }, { table, tokenCount: tokens.length, insert: [...tokens], deadlineMs: SHIP_DEADLINE_MS });
      // NOTE: the writer took its own references synchronously above; the caller may release `table` now.
      if ((await sent) === null) return false;
      this.#shipped += 1;
      return true;
    } catch {
      this.#failed += 1;
      return false;
    }
  }
}
