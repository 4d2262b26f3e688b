/**
 * In-process handoff: the producer (prefill) passes block ids, not bytes. The handoff holds its
 * own reference on every block from open until it is adopted (the references move, unchanged, to
 * the consumer's table: no KV byte is copied) or cancelled (whichever side cancels first drops
 * them, exactly once). Layers are published in order on a shared progress counter so the consumer
 * can read layer i while later layers are still being computed. A cancelled handoff can never be
 * adopted, so half-written blocks never reach a consumer's table or the prefix cache.
 */
import type { BlockPool } from './block-pool.js';
import type { BlockTable, KvKind } from './block-table.js';
import { HandoffCancelledError, HandoffTimeoutError, KvArgumentError, KvClosedError } from './errors.js';
import type { HandoffState, SlotRef } from './handoff-slots.js';
import type { PoolGeometry } from './pool-layout.js';

/** Cloneable description of a handoff, posted from the producer's thread to the consumer's. */
export interface HandoffDescriptor {
  /** Handoff slot in the pool's shared metadata (holds state and the layer-progress counter). */
  readonly slot: number;
  /** Slot generation when this handoff opened (detects a reused slot). */
  readonly generation: number;
  readonly sequenceId: string | null;
  /**
   * Blocks in sequence order; the handoff holds one reference on each until adopted or cancelled.
   * NOTE: an Int32Array so that posting the descriptor clones one memcpy, not one value per block.
   */
  readonly blockIds: Int32Array;
  /** Tokens of KV the blocks hold once complete. */
  readonly tokenCount: number;
  readonly geometry: PoolGeometry;
}

/** Options of BlockPool.openHandoff. */
export interface OpenHandoffOptions {
  /** Tokens the producer will have written when it publishes the last layer. */
  readonly tokenCount: number;
  readonly sequenceId?: string;
  /**
   * Cancel the handoff if it is not adopted within this many ms (enforced by
   * BlockPool.sweepExpiredHandoffs, which some thread must call periodically). Absent: no deadline.
   */
  readonly deadlineMs?: number;
}

/** Options of HandoffConsumer.waitForLayer. */
export interface WaitForLayerOptions {
  /** Give up (and cancel the handoff) after this many milliseconds. */
  readonly timeoutMs?: number;
  /** Give up (and cancel the handoff) when aborted. */
  readonly signal?: AbortSignal;
}

/** The ES2024 Atomics.waitAsync signature (present in Node 20; the repo's lib is ES2023). */
type WaitAsync = (
  array: Int32Array,
  index: number,
  value: number,
  timeoutMs?: number,
) => { async: false; value: 'not-equal' | 'timed-out' } | { async: true; value: Promise<'ok' | 'timed-out'> };

// NOTE: typed through a cast because lib ES2023 lacks the declaration, not the runtime function.
const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;

abstract class HandoffSide {
  /** The cloneable descriptor of this handoff. */
  readonly descriptor: HandoffDescriptor;
  protected readonly pool: BlockPool;
  protected readonly ref: SlotRef;

  protected constructor(pool: BlockPool, descriptor: HandoffDescriptor) {
    this.pool = pool;
    this.descriptor = descriptor;
    this.ref = { slot: descriptor.slot, generation: descriptor.generation };
  }

  /** Where the handoff stands now. */
  get state(): HandoffState {
    return this.pool.slots.snapshot(this.ref).state;
  }

  /** Layers published so far. */
  get layersReady(): number {
    return this.pool.slots.snapshot(this.ref).layersReady;
  }

  /** Cancels the handoff and drops its references. False when it was already adopted or cancelled. */
  cancel(): boolean {
    return this.pool.handoffs.cancel(this.ref);
  }
}

/** The producer side: publishes layers as they are written. */
export class HandoffProducer extends HandoffSide {
  private finished = false;

  /** @internal Use BlockPool.openHandoff. */
  static open(pool: BlockPool, table: BlockTable, options: OpenHandoffOptions): HandoffProducer | null {
    const tokenCount = options?.tokenCount;
    if (!Number.isInteger(tokenCount) || tokenCount < 0 || tokenCount > table.capacity) {
      throw new KvArgumentError(
        `openHandoff: tokenCount must be an integer in [0, ${table.capacity}] (table capacity), got ${String(tokenCount)}`,
      );
    }
    if (table.released) throw new KvClosedError('openHandoff: the block table was released');
    const deadlineMs = options.deadlineMs;
    if (deadlineMs !== undefined && !(typeof deadlineMs === 'number' && deadlineMs >= 0 && deadlineMs !== Infinity)) {
      throw new KvArgumentError(`openHandoff: deadlineMs must be a finite number >= 0, got ${String(deadlineMs)}`);
    }
    const deadline = deadlineMs === undefined ? null : Date.now() + deadlineMs;
    const ref = pool.handoffs.open(table.blockIds, { deadline, producer: pool.owner });
    if (ref === null) return null;
    const blockIds = new Int32Array(table.blockIds);
    return new HandoffProducer(pool, {
      slot: ref.slot,
      generation: ref.generation,
      sequenceId: options.sequenceId ?? null,
      blockIds,
      tokenCount,
      geometry: pool.geometry,
    });
  }

  /**
   * Where the handoff stands. A handoff that ended before this producer published its last layer
   * can only have been cancelled, so it reads 'cancelled' even after its slot was reused.
   */
  override get state(): HandoffState {
    const state = super.state;
    return state === 'ended' && !this.finished ? 'cancelled' : state;
  }

  /**
   * @internal Resolves with the handoff's state once it differs from `seen`, or with the current
   * state after `timeoutMs`. Sleeps in Atomics.waitAsync (which keeps no process alive).
   */
  async stateChange(seen: HandoffState, timeoutMs: number): Promise<HandoffState> {
    const meta = new Int32Array(this.pool.handle.meta);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const wake = this.pool.slots.signal(this.ref);
      const state = this.state;
      const remaining = deadline - Date.now();
      if (state !== seen || remaining <= 0) return state;
      const waited = waitAsync(meta, wake.index, wake.value, remaining);
      if (waited.async) await waited.value;
    }
  }

  /** Declares `layer` fully written (layers go 0, 1, ...); wakes waiting consumers. */
  publishLayer(layer: number): void {
    this.pool.slots.publishLayer(this.ref, layer);
    if (layer === this.pool.geometry.layers - 1) this.finished = true;
  }
}

/** The consumer side: waits for layers, reads them, then adopts the blocks. */
export class HandoffConsumer extends HandoffSide {
  private view: BlockTable | null = null;
  private readonly meta: Int32Array;

  private constructor(pool: BlockPool, descriptor: HandoffDescriptor) {
    super(pool, descriptor);
    this.meta = new Int32Array(pool.handle.meta);
  }

  /** @internal Use BlockPool.acceptHandoff. */
  static accept(pool: BlockPool, descriptor: HandoffDescriptor): HandoffConsumer {
    const g = pool.geometry;
    const d = descriptor?.geometry;
    if (
      !d ||
      d.blockSize !== g.blockSize ||
      d.layers !== g.layers ||
      d.heads !== g.heads ||
      d.headDim !== g.headDim ||
      d.totalBlocks !== g.totalBlocks
    ) {
      throw new KvArgumentError('acceptHandoff: descriptor.geometry does not match this pool');
    }
    if (!(descriptor.blockIds instanceof Int32Array)) {
      throw new KvArgumentError('acceptHandoff: descriptor.blockIds must be an Int32Array');
    }
    if (!Number.isInteger(descriptor.slot) || descriptor.slot < 0 || descriptor.slot >= g.handoffSlots) {
      throw new KvArgumentError(`acceptHandoff: descriptor.slot ${String(descriptor.slot)} is not a slot of this pool`);
    }
    const consumer = new HandoffConsumer(pool, descriptor);
    if (pool.owner !== null) pool.handoffs.setConsumer(consumer.ref, pool.owner);
    return consumer;
  }

  /**
   * Resolves once `layer` is published. Rejects with HandoffCancelledError when the handoff is
   * cancelled or `signal` aborts, HandoffTimeoutError after `timeoutMs`; giving up cancels the
   * handoff so its references are never leaked. Sleeps in Atomics.waitAsync (no spinning).
   */
  async waitForLayer(layer: number, options: WaitForLayerOptions = {}): Promise<void> {
    const layers = this.pool.geometry.layers;
    if (!Number.isInteger(layer) || layer < 0 || layer >= layers) {
      throw new KvArgumentError(`waitForLayer: layer ${String(layer)} is not in [0, ${layers})`);
    }
    const { timeoutMs, signal } = options;
    if (timeoutMs !== undefined && !(timeoutMs >= 0)) {
      throw new KvArgumentError(`waitForLayer: timeoutMs must be >= 0, got ${String(timeoutMs)}`);
    }
    const deadline = timeoutMs === undefined ? Infinity : Date.now() + timeoutMs;
    let aborted = false;
    const onAbort = (): void => {
      aborted = true;
      this.cancel();
    };
    if (signal?.aborted) onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      for (;;) {
        const wake = this.pool.slots.signal(this.ref);
        const { state, layersReady } = this.pool.slots.snapshot(this.ref);
        if (aborted) throw new HandoffCancelledError(`waitForLayer(${layer}): aborted by the caller's signal`);
        if (layersReady > layer && (state === 'pending' || state === 'complete')) return;
        if (state !== 'pending') {
          throw new HandoffCancelledError(`waitForLayer(${layer}): handoff slot ${this.ref.slot} is ${state}`);
        }
        const remaining = deadline - Date.now();
        if (remaining <= 0) {
          this.cancel();
          throw new HandoffTimeoutError(`waitForLayer(${layer}): layer not published within ${timeoutMs} ms`);
        }
        const waited = waitAsync(this.meta, wake.index, wake.value, remaining === Infinity ? undefined : remaining);
        if (waited.async) await waited.value;
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Reads rows of a layer that is already published (see BlockTable.read). */
  read(layer: number, kind: KvKind, start: number, end: number, out: Float32Array): void {
    const { state, layersReady } = this.pool.slots.snapshot(this.ref);
    if (state !== 'pending' && state !== 'complete') {
      throw new HandoffCancelledError(`read: handoff slot ${this.ref.slot} is ${state}`);
    }
    if (layer >= layersReady) {
      throw new KvArgumentError(`read: layer ${layer} is not published yet (${layersReady} ready)`);
    }
    // NOTE: a non-owning view for reads before adoption, made on first use; it is never released.
    this.view ??= this.pool.adoptBlocks(this.descriptor.blockIds);
    this.view.read(layer, kind, start, end, out);
  }

  /**
   * Takes ownership of the blocks (no copy, no reference count change; on an owner's view the
   * references move from the handoff to that owner). The handoff must be complete; after a cancel
   * (by either side, a deadline sweep or cancelHandoffsOf) it throws HandoffCancelledError.
   */
  adopt(): BlockTable {
    this.pool.handoffs.adopt(this.ref, this.descriptor.blockIds, this.pool.owner);
    return this.pool.adoptBlocks(this.descriptor.blockIds);
  }
}
