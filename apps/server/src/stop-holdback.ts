/**
 * StopHoldback: keeps streamed text from ever showing a stop string. Text that could still turn
 * into a stop string (a suffix that is a prefix of one) is held back until the next token settles
 * it; at the end the engine's final text (already cut before the stop string) decides the rest.
 *
 * Invariant: the concatenation of everything `push` and `finish` return equals the final text.
 */

/** Stop-string-aware text delta buffering for one stream. */
export class StopHoldback {
  readonly #stops: readonly string[];
  #emitted = '';
  #pending = '';

  constructor(stops: readonly string[]) {
    this.#stops = stops;
  }

  /** Adds a delta; returns the text that is safe to send now (possibly ''). */
  push(delta: string): string {
    const full = this.#pending + delta;
    const hit = this.#firstStop(full);
    const safeLength = hit !== null ? hit : full.length - this.#partialStopSuffix(full);
    const out = full.slice(0, safeLength);
    this.#pending = hit !== null ? '' : full.slice(safeLength);
    this.#emitted += out;
    return out;
  }

  /** The rest of `finalText` (the engine's text, cut before any stop string) not yet sent. */
  finish(finalText: string): string {
    const rest = finalText.startsWith(this.#emitted) ? finalText.slice(this.#emitted.length) : '';
    this.#emitted = finalText;
    this.#pending = '';
    return rest;
  }

  /** NOTE: a stop string cannot begin in emitted text: any prefix of one at the end was held back. */
  #firstStop(text: string): number | null {
    let first: number | null = null;
    for (const s of this.#stops) {
      const at = text.indexOf(s);
      if (at >= 0) first = first === null ? at : Math.min(first, at);
    }
    return first;
  }

  /** Length of the longest suffix of `text` that is a proper prefix of a stop string. */
  #partialStopSuffix(text: string): number {
    let longest = 0;
    for (const s of this.#stops) {
      for (let n = Math.min(s.length - 1, text.length); n > longest; n--) {
        if (s.startsWith(text.slice(text.length - n))) {
          longest = n;
          break;
        }
      }
    }
    return longest;
  }
}
