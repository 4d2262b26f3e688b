/**
 * SloWindow: the planner's sliding window of finished requests — for each, whether its TTFT and
 * its TPOT met their targets — and the attainment of each over the window.
 *
 * Invariants: samples are kept in arrival order and dropped once older than the window (or older
 * than a cut the caller sets after a flip, so attainment reflects the current split only); an
 * attainment is null below `minSamples` (a request with one output token has no TPOT and counts
 * only toward TTFT).
 */

interface Sample {
  timeMs: number;
  ttftOk: boolean;
  tpotOk: boolean | null;
}

/** Attainment of TTFT and TPOT targets over a sliding window. */
export class SloWindow {
  readonly #samples: Sample[] = [];
  #cutMs = -Infinity;

  constructor(private readonly opts: { windowMs: number; minSamples: number; slo: { ttftMs: number; tpotMs: number } }) {}

  /** One finished request. */
  add(timeMs: number, ttftMs: number, tpotMs: number | null): void {
    this.#samples.push({ timeMs, ttftOk: ttftMs <= this.opts.slo.ttftMs, tpotOk: tpotMs === null ? null : tpotMs <= this.opts.slo.tpotMs });
  }

  /** A request refused at admission for `slo`: it missed that target (and has no measure of the other). */
  addMiss(timeMs: number, slo: 'ttft' | 'tpot'): void {
    this.#samples.push(slo === 'ttft' ? { timeMs, ttftOk: false, tpotOk: null } : { timeMs, ttftOk: true, tpotOk: false });
  }

  /** Forgets every sample before `timeMs` (the split changed then). */
  cut(timeMs: number): void {
    this.#cutMs = Math.max(this.#cutMs, timeMs);
  }

  /** Attainment now: share of windowed samples meeting each target (null below minSamples). */
  attainment(nowMs: number): { ttft: number | null; tpot: number | null; samples: number } {
    const from = Math.max(this.#cutMs, nowMs - this.opts.windowMs);
    while (this.#samples.length > 0 && this.#samples[0].timeMs < from) this.#samples.shift();
    const all = this.#samples;
    const tpot = all.filter((s) => s.tpotOk !== null);
    const share = (list: readonly Sample[], ok: (s: Sample) => boolean): number | null =>
      list.length < this.opts.minSamples ? null : list.filter(ok).length / list.length;
    return { ttft: share(all, (s) => s.ttftOk), tpot: share(tpot, (s) => s.tpotOk === true), samples: all.length };
  }
}
