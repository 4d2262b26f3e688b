/**
 * The lifecycle of handoff references: a handoff's references belong to its slot (holder row
 * `maxOwners + slot`, see holder-counts.ts) from open until it ends. Adoption moves them, block
 * for block, to the adopting owner's row (or out of the holder matrix when the adopter has no
 * owner); cancellation (by either side, a deadline sweep or a dead owner's cleanup) drops them.
 * Each transition and its reference changes happen in ONE critical section, so the references
 * are dropped exactly once whoever cancels, and a handoff is never both adopted and cancelled.
 */
import type { BlockLedger } from './block-ledger.js';
import { KvArgumentError } from './errors.js';
import type { HandoffSlots, LiveSlot, SlotOpenOptions, SlotRef } from './handoff-slots.js';
import type { HolderCounts } from './holder-counts.js';
import type { SharedMutex } from './shared-mutex.js';

/** Opens, adopts and cancels handoffs with their references, across threads. */
export class HandoffRegistry {
  private readonly mutex: SharedMutex;
  private readonly ledger: BlockLedger;
  private readonly holders: HolderCounts;
  private readonly slots: HandoffSlots;

  constructor(options: { mutex: SharedMutex; ledger: BlockLedger; holders: HolderCounts; slots: HandoffSlots }) {
    this.mutex = options.mutex;
    this.ledger = options.ledger;
    this.holders = options.holders;
    this.slots = options.slots;
  }

  /**
   * Takes a slot and one reference on each block for it; null (nothing taken) when no slot is free.
   * Throws KvRefCountError (nothing taken) if a block holds no reference.
   */
  open(blockIds: ArrayLike<number>, options: SlotOpenOptions): SlotRef | null {
    const ref = this.mutex.withLock(() => {
      if (this.slots.freeCount() === 0) return null;
      this.ledger.retainAllLocked(blockIds);
      const opened = this.slots.openLocked(options);
      if (opened === null) {
        // NOTE: cannot happen (a free slot was counted under this lock); undo rather than assert.
        for (let i = 0; i < blockIds.length; i++) this.ledger.releaseLocked(blockIds[i]);
        return null;
      }
      this.holders.addAllLocked(this.holders.slotHolder(opened.slot), blockIds);
      return opened;
    });
    if (ref !== null) this.slots.notify(ref.slot);
    return ref;
  }

  /** Records which owner consumes the handoff (for cancelOf). */
  setConsumer(ref: SlotRef, owner: number): void {
    this.mutex.withLock(() => this.slots.setConsumerLocked(ref, owner));
  }

  /**
   * Marks the handoff adopted and moves its references to `owner` (null: to no owner).
   * Throws HandoffCancelledError / HandoffStateError (see HandoffSlots.adoptLocked), or
   * KvArgumentError when `blockIds` are not the handoff's blocks.
   */
  adopt(ref: SlotRef, blockIds: ArrayLike<number>, owner: number | null): void {
    this.mutex.withLock(() => {
      const slotHolder = this.holders.slotHolder(ref.slot);
      const { state } = this.slots.snapshot(ref);
      if ((state === 'pending' || state === 'complete') && this.holders.firstMissingLocked(slotHolder, blockIds) !== null) {
        throw new KvArgumentError(`adopt: descriptor.blockIds are not the blocks of handoff slot ${ref.slot}`);
      }
      this.slots.adoptLocked(ref);
      this.holders.subtractAllLocked(slotHolder, blockIds);
      if (owner !== null) this.holders.addAllLocked(this.holders.ownerHolder(owner), blockIds);
    });
    this.slots.notify(ref.slot);
  }

  /** Cancels a pending or complete handoff and drops its references; false if it had ended. */
  cancel(ref: SlotRef): boolean {
    const cancelled = this.mutex.withLock(() => this.cancelLocked(ref));
    if (cancelled) this.slots.notify(ref.slot);
    return cancelled;
  }

  /** Cancels every live handoff whose deadline is <= `now`; returns how many. */
  sweep(now: number): number {
    return this.cancelWhere((live) => live.deadline !== null && live.deadline <= now);
  }

  /** Cancels every live handoff `owner` produced or accepted; returns how many. */
  cancelOf(owner: number): number {
    return this.cancelWhere((live) => live.producer === owner || live.consumer === owner);
  }

  private cancelWhere(test: (live: LiveSlot) => boolean): number {
    const cancelled = this.mutex.withLock(() => {
      const refs: SlotRef[] = [];
      for (const live of this.slots.liveLocked()) {
        if (test(live) && this.cancelLocked(live.ref)) refs.push(live.ref);
      }
      return refs;
    });
    for (const ref of cancelled) this.slots.notify(ref.slot);
    return cancelled.length;
  }

  private cancelLocked(ref: SlotRef): boolean {
    if (!this.slots.cancelLocked(ref)) return false;
    const { blocks, counts } = this.holders.drainLocked(this.holders.slotHolder(ref.slot));
    for (let i = 0; i < blocks.length; i++) {
      for (let n = 0; n < counts[i]; n++) this.ledger.releaseLocked(blocks[i]);
    }
    return true;
  }
}
