/**
 * The 'shared' KV channel: both sides attach one BlockPool (threads of one process), so the
 * channel is an in-process handoff (handoff.ts): block ids move, no KV byte is copied. The writer
 * follows the slot's state (Atomics.waitAsync, no polling): a cancel by the reader fails `done` at
 * once, and unless the reader adopted by the deadline, the writer cancels the handoff (the deadline
 * is also recorded in the slot, for BlockPool.sweepExpiredHandoffs).
 */
import type { BlockPool } from './block-pool.js';
import type { BlockTable, KvKind } from './block-table.js';
import { HandoffCancelledError } from './errors.js';
import type { HandoffConsumer, HandoffProducer, WaitForLayerOptions } from './handoff.js';
import type { KvReader, KvTicket, KvWriter, OpenKvWriterOptions } from './kv-channel.js';

/** Default deadline of a channel (both kinds), in ms. */
export const DEFAULT_CHANNEL_DEADLINE_MS = 30_000;

/** Writer of a shared channel: a HandoffProducer with a deadline and a `done` promise. */
export class SharedKvWriter implements KvWriter {
  readonly kind = 'shared' as const;
  readonly ticket: KvTicket;
  readonly done: Promise<void>;
  #written = 0;
  #settled = false;
  #resolve: () => void = () => undefined;
  #reject: (error: Error) => void = () => undefined;

  private constructor(
    private readonly pool: BlockPool,
    private readonly producer: HandoffProducer,
    private readonly layers: number,
    deadlineMs: number,
    private readonly insert: readonly number[] | undefined,
  ) {
    this.ticket = { kind: 'shared', tokenCount: producer.descriptor.tokenCount, handoff: producer.descriptor };
    this.done = new Promise<void>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.done.catch(() => undefined);
    void this.#watch(Date.now() + deadlineMs, deadlineMs);
  }

  /** Follows the handoff until it ends: a cancel by the reader (or a sweep) fails `done`; the deadline cancels. */
  async #watch(deadline: number, deadlineMs: number): Promise<void> {
    for (let state = this.producer.state; ; ) {
      if (state === 'adopted' || state === 'ended') return;
      if (state === 'cancelled') return this.#fail(new HandoffCancelledError(`KV channel ${this.name}: cancelled by the reader`));
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        this.producer.cancel();
        return this.#fail(new HandoffCancelledError(`KV channel ${this.name}: not adopted within its ${deadlineMs} ms deadline`));
      }
      state = await this.producer.stateChange(state, remaining);
    }
  }

  /** Opens the handoff; null when every handoff slot of the pool is in use. */
  static open(pool: BlockPool, options: OpenKvWriterOptions): SharedKvWriter | null {
    const deadlineMs = options.deadlineMs ?? DEFAULT_CHANNEL_DEADLINE_MS;
    const producer = pool.openHandoff(options.table, { tokenCount: options.tokenCount, sequenceId: options.sequenceId, deadlineMs });
    return producer === null ? null : new SharedKvWriter(pool, producer, pool.geometry.layers, deadlineMs, options.insert);
  }

  get layersWritten(): number {
    return this.#written;
  }

  publishLayer(layer: number): void {
    try {
      this.producer.publishLayer(layer);
    } catch (error) {
      if (error instanceof HandoffCancelledError) this.#fail(error);
      throw error;
    }
    this.#written = layer + 1;
    if (this.#written === this.layers && this.insert !== undefined) {
      // NOTE: transfer-with-insert into the same pool: adopt, index, release.
      const table = this.pool.acceptHandoff(this.producer.descriptor).adopt();
      this.pool.publish(table, this.insert);
      table.release();
    }
    if (this.#written === this.layers && !this.#settled) {
      this.#settled = true;
      this.#resolve();
    }
  }

  cancel(): boolean {
    const cancelled = this.producer.cancel();
    if (cancelled) this.#fail(new HandoffCancelledError(`KV channel ${this.name}: cancelled by the writer`));
    return cancelled;
  }

  private get name(): string {
    return this.producer.descriptor.sequenceId ?? `slot ${this.producer.descriptor.slot}`;
  }

  #fail(error: Error): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#reject(error);
  }
}

/** Reader of a shared channel: the HandoffConsumer. */
export class SharedKvReader implements KvReader {
  readonly kind = 'shared' as const;

  constructor(
    private readonly consumer: HandoffConsumer,
    readonly tokenCount: number,
  ) {}

  get layersReady(): number {
    return this.consumer.layersReady;
  }

  waitForLayer(layer: number, options?: WaitForLayerOptions): Promise<void> {
    return this.consumer.waitForLayer(layer, options);
  }

  read(layer: number, kind: KvKind, start: number, end: number, out: Float32Array): void {
    this.consumer.read(layer, kind, start, end, out);
  }

  adopt(): BlockTable {
    return this.consumer.adopt();
  }

  cancel(): boolean {
    return this.consumer.cancel();
  }
}
