/**
 * SloWindow: the planner's sliding window of measured TTFTs (each known at its first token) and
 * TPOTs (known when a request ends) — whether each met its target — and the attainment of each
 * over the window.
 *
 * Invariants: samples are kept in time order and dropped once older than the window (or older than
 * a cut the caller sets after a change of split, so attainment reflects the current split only);
 * an attainment is null below `minSamples` of its kind (a request with one output token has no
 * TPOT). A refusal at admission counts as a miss of the SLO whose estimate broke.
 */

interface Sample {
  timeMs: number;
  ok: boolean;
}

/** Attainment of TTFT and TPOT targets over a sliding window. */
export class SloWindow {
  readonly #ttft: Sample[] = [];
  readonly #tpot: Sample[] = [];
  #cutMs = -Infinity;

  constructor(private readonly opts: { windowMs: number; minSamples: number; slo: { ttftMs: number; tpotMs: number } }) {}

  /** One finished request's TTFT and TPOT (null: one output token). */
  add(timeMs: number, ttftMs: number, tpotMs: number | null): void {
    this.addTtft(timeMs, ttftMs);
    if (tpotMs !== null) this.addTpot(timeMs, tpotMs);
  }

  /** One first token, `ttftMs` after its request arrived. */
  addTtft(timeMs: number, ttftMs: number): void {
    insert(this.#ttft, { timeMs, ok: ttftMs <= this.opts.slo.ttftMs });
  }

  /** One finished request's TPOT. */
  addTpot(timeMs: number, tpotMs: number): void {
    insert(this.#tpot, { timeMs, ok: tpotMs <= this.opts.slo.tpotMs });
  }

  /** A request refused at admission for `slo`: it missed that target (and has no measure of the other). */
  addMiss(timeMs: number, slo: 'ttft' | 'tpot'): void {
    insert(slo === 'ttft' ? this.#ttft : this.#tpot, { timeMs, ok: false });
  }

  /** Forgets every sample before `timeMs` (the split changed then). */
  cut(timeMs: number): void {
    this.#cutMs = Math.max(this.#cutMs, timeMs);
  }

  /** Attainment now: share of windowed samples meeting each target (null below minSamples). */
  attainment(nowMs: number): { ttft: number | null; tpot: number | null; samples: number } {
    const from = Math.max(this.#cutMs, nowMs - this.opts.windowMs);
    for (const list of [this.#ttft, this.#tpot]) while (list.length > 0 && list[0].timeMs < from) list.shift();
    const share = (list: readonly Sample[]): number | null => (list.length < this.opts.minSamples ? null : list.filter((s) => s.ok).length / list.length);
    return { ttft: share(this.#ttft), tpot: share(this.#tpot), samples: Math.max(this.#ttft.length, this.#tpot.length) };
  }
}

/** Keeps `list` in time order (samples from two sources may arrive slightly out of order). */
function insert(list: Sample[], s: Sample): void {
  let i = list.length;
  while (i > 0 && list[i - 1].timeMs > s.timeMs) i--;
  list.splice(i, 0, s);
}
