/**
 * A FIFO queue with O(1) push and shift (a growable ring buffer). Used for mailboxes, where a
 * plain array's `shift()` would be O(n) under backlog.
 */

/** FIFO queue. */
export class Deque<T> {
  #items: (T | undefined)[] = new Array<T | undefined>(16);
  #head = 0;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  push(item: T): void {
    if (this.#size === this.#items.length) this.#grow();
    this.#items[(this.#head + this.#size) % this.#items.length] = item;
    this.#size++;
  }

  /** The oldest item without removing it, or `null` when empty. */
  peek(): T | null {
    return this.#size === 0 ? null : (this.#items[this.#head] as T);
  }

  /** Removes and returns the oldest item, or `null` when empty. */
  shift(): T | null {
    if (this.#size === 0) return null;
    const item = this.#items[this.#head] as T;
    this.#items[this.#head] = undefined;
    this.#head = (this.#head + 1) % this.#items.length;
    this.#size--;
    return item;
  }

  /** Removes and returns every item, oldest first. */
  drain(): T[] {
    const out: T[] = [];
    for (let item = this.shift(); item !== null; item = this.shift()) out.push(item);
    return out;
  }

  #grow(): void {
    const bigger = new Array<T | undefined>(this.#items.length * 2);
    for (let i = 0; i < this.#size; i++) bigger[i] = this.#items[(this.#head + i) % this.#items.length];
    this.#items = bigger;
    this.#head = 0;
  }
}
