/**
 * PlannerActor: elastic prefill:decode's planner. The engine tells it every finished request's
 * measured TTFT and TPOT; every `elastic.intervalMs` it reads the scheduler's view (instance roles,
 * per-role queues, decode step time and KV use), applies `decideFlip` (planner-policy.ts) and asks
 * the scheduler for the flip it decided. Each decision, with its reason and whether the scheduler
 * accepted it, is kept for `stats()`.
 *
 * Invariants: at most one tick is in flight (a slow scheduler answer never stacks ticks); after a
 * flip the window forgets older samples, so the next decision judges the new split only; the
 * planner never touches a serving actor itself (the scheduler owns routing and flips).
 */
import { Actor } from '@baton/actors';
import { engineNow } from '../clock.js';
import type { PlannerDecision, PlannerStats, ServingRole } from '../elastic-protocol.js';
import { decideFlip } from '../planner-policy.js';
import type { PlannerInit, PlannerMsg } from '../protocol.js';
import { SloWindow } from '../slo-window.js';

/** Decisions remembered in stats. */
const DECISIONS = 64;
const ASK_TIMEOUT_MS = 2_000;

/** Planner actor (module default export, spawned by the engine in elastic mode `planner`). */
export default class PlannerActor extends Actor<PlannerMsg, PlannerInit> {
  readonly #window = new SloWindow({ windowMs: this.init.options.windowMs, minSamples: this.init.options.minSamples, slo: this.init.slo });
  readonly #decisions: PlannerDecision[] = [];
  #lastFlip: { atMs: number; to: ServingRole; attainment: number | null } | null = null;
  #blocked: { to: ServingRole; untilMs: number } | null = null;
  #holding: string | null = 'starting';
  #ticking = false;

  override onStart(): void {
    this.context.setInterval(() => this.context.self.tell({ type: 'tick' }), this.init.options.intervalMs);
  }

  readonly handlers = {
    observe: (m: Extract<PlannerMsg, { type: 'observe' }>): void => this.#window.add(m.timeMs, m.ttftMs, m.tpotMs),
    refused: (m: Extract<PlannerMsg, { type: 'refused' }>): void => this.#window.addMiss(m.timeMs, m.slo),
    tick: (): void => this.#tick(),
    stats: (): PlannerStats => {
      const a = this.#window.attainment(engineNow());
      return { ttftAttainment: a.ttft, tpotAttainment: a.tpot, samples: a.samples, holding: this.#holding, decisions: [...this.#decisions] };
    },
  };

  #tick(): void {
    if (this.#ticking) return;
    this.#ticking = true;
    const scheduler = this.init.scheduler;
    scheduler.ask({ type: 'elastic' }, { timeoutMs: ASK_TIMEOUT_MS }).then(
      (view) => {
        const now = engineNow();
        const a = this.#window.attainment(now);
        const verdict = decideFlip({
          nowMs: now, ttftAttainment: a.ttft, tpotAttainment: a.tpot, view, slo: this.init.slo, lastFlip: this.#lastFlip, blocked: this.#blocked, options: this.init.options,
        });
        if (verdict.kind === 'hold') {
          this.#holding = verdict.reason;
          this.#ticking = false;
          return;
        }
        this.#holding = null;
        const { instance, from, to, reason, revert } = verdict;
        scheduler.ask({ type: 'flip', instance, to, reason, decidedMs: now }, { timeoutMs: ASK_TIMEOUT_MS }).then(
          (reply) => {
            this.#record({ timeMs: now, instance, from, to, reason: reply.accepted ? reason : `${reason} (refused: ${reply.reason})`, accepted: reply.accepted });
            if (reply.accepted) {
              // NOTE: an undone flip blocks its direction; the undo itself is judged like any flip.
              if (revert) this.#blocked = { to: from, untilMs: now + 4 * this.init.options.cooldownMs };
              this.#lastFlip = { atMs: now, to, attainment: revert ? null : to === 'prefill' ? a.ttft : a.tpot };
              this.#window.cut(now);
            }
            this.#ticking = false;
          },
          () => {
            this.#ticking = false;
          },
        );
      },
      () => {
        this.#holding = 'the scheduler did not answer';
        this.#ticking = false;
      },
    );
  }

  #record(d: PlannerDecision): void {
    this.#decisions.push(d);
    if (this.#decisions.length > DECISIONS) this.#decisions.shift();
  }
}
