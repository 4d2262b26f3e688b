/**
 * LiveDisplay: a block of lines redrawn in place on a TTY (ANSI: cursor up, clear to end of
 * screen), with lines printed above it scrolling normally. Invariants: the cursor is hidden only
 * between the first redraw and `close()`; every line written is already printable (callers escape
 * model output), so the only control sequences on the terminal are the display's own.
 */

/** The stream a display writes to (process.stdout, or a fake in tests). */
export interface DisplayStream {
  write(text: string): unknown;
  readonly columns?: number;
}

const HIDE_CURSOR = '\x1b[?25l';
const SHOW_CURSOR = '\x1b[?25h';
const CLEAR_DOWN = '\x1b[J';
const up = (n: number): string => (n > 0 ? `\x1b[${n}F` : '\r');

/** A redrawable block at the bottom of a terminal. */
export class LiveDisplay {
  #height = 0;
  #hidden = false;

  constructor(private readonly out: DisplayStream) {}

  /** Terminal width (80 when unknown). */
  get width(): number {
    return this.out.columns ?? 80;
  }

  /** Replaces the block with `lines`. */
  redraw(lines: readonly string[]): void {
    const prefix = this.#hidden ? '' : HIDE_CURSOR;
    this.#hidden = true;
    this.out.write(prefix + up(this.#height) + CLEAR_DOWN + lines.map((l) => l + '\n').join(''));
    this.#height = lines.length;
  }

  /** Leaves the last block on screen and restores the cursor. */
  close(): void {
    if (this.#hidden) this.out.write(SHOW_CURSOR);
    this.#hidden = false;
    this.#height = 0;
  }
}
