/**
 * A restartable inactivity timer: `touch()` on every sign of life; `onIdle` runs once when no
 * touch came for `ms` while `busy()` said there was something to wait for. Unref'd, so it never
 * keeps a process alive on its own.
 */

/** Fires `onIdle` after `ms` without a touch. */
export class IdleTimer {
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly ms: number,
    private readonly busy: () => boolean,
    private readonly onIdle: () => void,
  ) {}

  /** Restarts the countdown. */
  touch(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.busy()) this.onIdle();
    }, this.ms);
    this.timer.unref();
  }

  /** Stops the countdown when nothing is in flight any more. */
  disarmIfIdle(): void {
    if (!this.busy() && this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }
}
