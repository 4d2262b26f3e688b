/**
 * Handoff slots in shared memory: a bounded set of (state, layer progress, generation, signal)
 * records. A slot is taken when a handoff opens and returns to the free list the moment the
 * handoff reaches a terminal state (cancelled or adopted). Its generation is bumped when it is
 * reused, so an old descriptor can tell that its handoff ended. All transitions hold the pool lock;
 * waiters sleep on S_SIGNAL with Atomics.waitAsync and are woken by every transition (`*Locked`
 * methods bump the signal; their caller calls `notify` after unlocking).
 * A live slot also records its absolute deadline (if any) and the owner ids of its producer and
 * consumer (if any), so any thread can sweep expired handoffs or cancel a dead owner's.
 */
import { HandoffCancelledError, HandoffStateError } from './errors.js';
import {
  DeadlineKind,
  H_SLOT_FREE_COUNT,
  H_SLOT_FREE_HEAD,
  NONE,
  S_CONSUMER,
  S_DEADLINE_HI,
  S_DEADLINE_KIND,
  S_DEADLINE_LO,
  S_FREE_NEXT,
  S_GENERATION,
  S_PRODUCER,
  S_PROGRESS,
  S_SIGNAL,
  S_STATE,
  SlotState,
  slotWord,
  type PoolLayout,
} from './pool-layout.js';
import type { SharedMutex } from './shared-mutex.js';

/** Where a handoff stands. `ended`: its slot was reused after it was adopted or cancelled. */
export type HandoffState = 'pending' | 'complete' | 'cancelled' | 'adopted' | 'ended';

/** Identity of a live handoff in the slot table. */
export interface SlotRef {
  readonly slot: number;
  readonly generation: number;
}

/** A read of a slot's state and progress. */
export interface SlotSnapshot {
  readonly state: HandoffState;
  readonly layersReady: number;
}

/** What a new slot records besides its state. */
export interface SlotOpenOptions {
  /** Absolute deadline in ms (Date.now() clock), or null for none. */
  readonly deadline: number | null;
  /** Owner id of the producer, or null. */
  readonly producer: number | null;
}

/** A pending or complete slot, as seen by a sweep. */
export interface LiveSlot {
  readonly ref: SlotRef;
  readonly deadline: number | null;
  readonly producer: number | null;
  readonly consumer: number | null;
}

const TWO_32 = 2 ** 32;

const STATE_NAMES: Record<SlotState, HandoffState> = {
  [SlotState.Free]: 'ended',
  [SlotState.Pending]: 'pending',
  [SlotState.Complete]: 'complete',
  [SlotState.Cancelled]: 'cancelled',
  [SlotState.Adopted]: 'adopted',
};

/** The pool's handoff slot table. */
export class HandoffSlots {
  private readonly meta: Int32Array;
  private readonly layout: PoolLayout;
  private readonly mutex: SharedMutex;

  constructor(options: { meta: Int32Array; layout: PoolLayout; mutex: SharedMutex }) {
    this.meta = options.meta;
    this.layout = options.layout;
    this.mutex = options.mutex;
  }

  /** Puts every slot on the free list (pool creation only). */
  initialize(): void {
    const count = this.layout.geometry.handoffSlots;
    for (let s = 0; s < count; s++) {
      this.meta[this.word(s, S_STATE)] = SlotState.Free;
      this.meta[this.word(s, S_FREE_NEXT)] = s + 1 < count ? s + 1 : NONE;
    }
    this.meta[H_SLOT_FREE_HEAD] = 0;
    this.meta[H_SLOT_FREE_COUNT] = count;
  }

  /** Takes a free slot in state pending, or returns null when all are in use. */
  openLocked(options: SlotOpenOptions): SlotRef | null {
    const slot = Atomics.load(this.meta, H_SLOT_FREE_HEAD);
    if (slot === NONE) return null;
    Atomics.store(this.meta, H_SLOT_FREE_HEAD, Atomics.load(this.meta, this.word(slot, S_FREE_NEXT)));
    Atomics.sub(this.meta, H_SLOT_FREE_COUNT, 1);
    const generation = Atomics.add(this.meta, this.word(slot, S_GENERATION), 1) + 1;
    Atomics.store(this.meta, this.word(slot, S_PROGRESS), 0);
    const { deadline, producer } = options;
    Atomics.store(this.meta, this.word(slot, S_DEADLINE_KIND), deadline === null ? DeadlineKind.None : DeadlineKind.At);
    const at = deadline === null ? 0 : Math.ceil(deadline);
    const hi = Math.floor(at / TWO_32);
    Atomics.store(this.meta, this.word(slot, S_DEADLINE_HI), hi);
    Atomics.store(this.meta, this.word(slot, S_DEADLINE_LO), (at - hi * TWO_32) | 0);
    Atomics.store(this.meta, this.word(slot, S_PRODUCER), producer ?? NONE);
    Atomics.store(this.meta, this.word(slot, S_CONSUMER), NONE);
    Atomics.store(this.meta, this.word(slot, S_STATE), SlotState.Pending);
    Atomics.add(this.meta, this.word(slot, S_SIGNAL), 1);
    return { slot, generation };
  }

  /** Records the consumer's owner id on a live slot (no-op on an ended one). */
  setConsumerLocked(ref: SlotRef, owner: number): void {
    const state = this.stateOf(ref);
    if (state === 'pending' || state === 'complete') Atomics.store(this.meta, this.word(ref.slot, S_CONSUMER), owner);
  }

  /** Every pending or complete slot. */
  liveLocked(): LiveSlot[] {
    const live: LiveSlot[] = [];
    for (let slot = 0; slot < this.layout.geometry.handoffSlots; slot++) {
      const state = Atomics.load(this.meta, this.word(slot, S_STATE)) as SlotState;
      if (state !== SlotState.Pending && state !== SlotState.Complete) continue;
      const hasDeadline = Atomics.load(this.meta, this.word(slot, S_DEADLINE_KIND)) === DeadlineKind.At;
      const hi = Atomics.load(this.meta, this.word(slot, S_DEADLINE_HI));
      const lo = Atomics.load(this.meta, this.word(slot, S_DEADLINE_LO)) >>> 0;
      live.push({
        ref: { slot, generation: Atomics.load(this.meta, this.word(slot, S_GENERATION)) },
        deadline: hasDeadline ? hi * TWO_32 + lo : null,
        producer: this.ownerAt(slot, S_PRODUCER),
        consumer: this.ownerAt(slot, S_CONSUMER),
      });
    }
    return live;
  }

  /** Slots currently free. */
  freeCount(): number {
    return Atomics.load(this.meta, H_SLOT_FREE_COUNT);
  }

  snapshot(ref: SlotRef): SlotSnapshot {
    if (Atomics.load(this.meta, this.word(ref.slot, S_GENERATION)) !== ref.generation) {
      return { state: 'ended', layersReady: 0 };
    }
    const state = STATE_NAMES[Atomics.load(this.meta, this.word(ref.slot, S_STATE)) as SlotState];
    return { state, layersReady: Atomics.load(this.meta, this.word(ref.slot, S_PROGRESS)) };
  }

  /** Index of the word waiters sleep on, and its current value. */
  signal(ref: SlotRef): { index: number; value: number } {
    const index = this.word(ref.slot, S_SIGNAL);
    return { index, value: Atomics.load(this.meta, index) };
  }

  /** Marks `layer` finished; the last layer completes the handoff. Layers go in order. */
  publishLayer(ref: SlotRef, layer: number): void {
    this.transition(ref, () => {
      const state = this.stateOf(ref);
      if (state === 'cancelled' || state === 'ended') {
        throw new HandoffCancelledError(`publishLayer(${layer}): handoff slot ${ref.slot} was ${state}`);
      }
      const ready = Atomics.load(this.meta, this.word(ref.slot, S_PROGRESS));
      if (state !== 'pending' || layer !== ready) {
        throw new HandoffStateError(
          `publishLayer(${layer}): handoff slot ${ref.slot} is ${state} with ${ready} layers published; expected layer ${ready}`,
        );
      }
      Atomics.store(this.meta, this.word(ref.slot, S_PROGRESS), ready + 1);
      if (ready + 1 === this.layout.geometry.layers) {
        Atomics.store(this.meta, this.word(ref.slot, S_STATE), SlotState.Complete);
      }
    });
  }

  /** Cancels a pending or complete handoff. True when this call cancelled it (caller drops refs). */
  cancelLocked(ref: SlotRef): boolean {
    const state = this.stateOf(ref);
    if (state !== 'pending' && state !== 'complete') return false;
    this.endLocked(ref.slot, SlotState.Cancelled);
    return true;
  }

  /** Marks a complete handoff adopted (ownership of its references moves to the caller). */
  adoptLocked(ref: SlotRef): void {
    const { state, layersReady } = this.snapshot(ref);
    if (state === 'cancelled' || state === 'ended') {
      throw new HandoffCancelledError(`adopt: handoff slot ${ref.slot} was ${state}`);
    }
    if (state !== 'complete') {
      throw new HandoffStateError(
        `adopt: handoff slot ${ref.slot} is ${state} (${layersReady} of ${this.layout.geometry.layers} layers published)`,
      );
    }
    this.endLocked(ref.slot, SlotState.Adopted);
  }

  /** Wakes every thread waiting on the slot's signal (call after a `*Locked` transition, unlocked). */
  notify(slot: number): void {
    Atomics.notify(this.meta, this.word(slot, S_SIGNAL));
  }

  private ownerAt(slot: number, word: number): number | null {
    const owner = Atomics.load(this.meta, this.word(slot, word));
    return owner === NONE ? null : owner;
  }

  private transition(ref: SlotRef, change: () => void): void {
    const index = this.word(ref.slot, S_SIGNAL);
    this.mutex.withLock(() => {
      change();
      Atomics.add(this.meta, index, 1);
    });
    Atomics.notify(this.meta, index);
  }

  private endLocked(slot: number, state: SlotState): void {
    Atomics.store(this.meta, this.word(slot, S_STATE), state);
    Atomics.add(this.meta, this.word(slot, S_SIGNAL), 1);
    Atomics.store(this.meta, this.word(slot, S_FREE_NEXT), Atomics.load(this.meta, H_SLOT_FREE_HEAD));
    Atomics.store(this.meta, H_SLOT_FREE_HEAD, slot);
    Atomics.add(this.meta, H_SLOT_FREE_COUNT, 1);
  }

  private stateOf(ref: SlotRef): HandoffState {
    return this.snapshot(ref).state;
  }

  private word(slot: number, word: number): number {
    return slotWord(this.layout, slot, word);
  }
}
