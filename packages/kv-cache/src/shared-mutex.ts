/**
 * A mutex in one Int32 word of shared memory (Drepper's three-state futex lock): UNLOCKED,
 * LOCKED (no waiters) and CONTENDED (someone may sleep in Atomics.wait). Guards pool metadata
 * only; critical sections are short and never copy KV bytes.
 *
 * NOTE: Atomics.wait is allowed on Node's main thread as well as in workers, so every thread
 * of the process can take this lock.
 */

const UNLOCKED = 0;
const LOCKED = 1;
const CONTENDED = 2;
const SPINS = 64;

/** Mutual exclusion across worker threads over `words[index]`. */
export class SharedMutex {
  private readonly words: Int32Array;
  private readonly index: number;

  constructor(words: Int32Array, index: number) {
    this.words = words;
    this.index = index;
  }

  /** Blocks the calling thread until the lock is held. */
  lock(): void {
    const { words, index } = this;
    for (let i = 0; i < SPINS; i++) {
      if (Atomics.compareExchange(words, index, UNLOCKED, LOCKED) === UNLOCKED) return;
    }
    let state = Atomics.exchange(words, index, CONTENDED);
    while (state !== UNLOCKED) {
      Atomics.wait(words, index, CONTENDED);
      state = Atomics.exchange(words, index, CONTENDED);
    }
  }

  /** Releases the lock, waking one sleeper if any. */
  unlock(): void {
    if (Atomics.exchange(this.words, this.index, UNLOCKED) === CONTENDED) {
      Atomics.notify(this.words, this.index, 1);
    }
  }

  /** Runs `fn` with the lock held. */
  withLock<T>(fn: () => T): T {
    this.lock();
    try {
      return fn();
    } finally {
      this.unlock();
    }
  }
}
