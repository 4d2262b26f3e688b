/**
 * PlannerActor: elastic prefill:decode's planner. The engine tells it every finished request's
 * measured TPOT; every `elastic.intervalMs` it reads the scheduler's view (instance roles, per-role
 * queues, decode step time and KV use, and the TTFT of every first token since: TTFT is judged
 * when it is known, not when its request ends), applies `decideFlip` (planner-policy.ts) and asks
 * the scheduler for the flip, spawn or retirement it decided. Each decision, with its reason and
 * whether the scheduler accepted it, is kept for `stats()`.
 *
 * Invariants: at most one tick is in flight (a slow scheduler answer never stacks ticks); after a
 * change of split the window forgets older samples, so the next decision judges the new split
 * only; the planner never touches a serving actor itself (the scheduler owns routing and flips,
 * the engine spawns and stops instances).
 */
import { Actor } from '@baton/actors';
import { engineNow } from '../clock.js';
import type { PlannerDecision, PlannerStats, ServingRole } from '../elastic-protocol.js';
import { decideFlip, type PlannerVerdict } from '../planner-policy.js';
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
  /** Engine-clock time of the latest first token taken from the scheduler's view. */
  #seenFirstMs = -Infinity;

  override onStart(): void {
    this.context.setInterval(() => this.context.self.tell({ type: 'tick' }), this.init.options.intervalMs);
  }

  readonly handlers = {
    // NOTE: the TTFT of a finished request was already seen at its first token (the scheduler's view).
    observe: (m: Extract<PlannerMsg, { type: 'observe' }>): void => {
      if (m.tpotMs !== null) this.#window.addTpot(m.timeMs, m.tpotMs);
    },
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
        for (const f of view.firstTokens) if (f.timeMs > this.#seenFirstMs) this.#window.addTtft(f.timeMs, f.ttftMs);
        this.#seenFirstMs = view.firstTokens.reduce((t, f) => Math.max(t, f.timeMs), this.#seenFirstMs);
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
        this.#act(verdict, now, a).finally(() => {
          this.#ticking = false;
        });
      },
      () => {
        this.#holding = 'the scheduler did not answer';
        this.#ticking = false;
      },
    );
  }

  /** Asks the scheduler for what the verdict decided and records the answer. */
  async #act(verdict: Exclude<PlannerVerdict, { kind: 'hold' }>, now: number, a: { ttft: number | null; tpot: number | null }): Promise<void> {
    const scheduler = this.init.scheduler;
    const ask = { timeoutMs: ASK_TIMEOUT_MS };
    const refused = (reason: string, why: string): string => `${reason} (refused: ${why})`;
    try {
      if (verdict.kind === 'spawn') {
        const reply = await scheduler.ask({ type: 'grow', role: verdict.role, reason: verdict.reason, decidedMs: now }, ask);
        const instance = reply.accepted ? reply.instance : null;
        this.#record({ timeMs: now, instance, from: null, to: verdict.role, reason: reply.accepted ? verdict.reason : refused(verdict.reason, reply.reason), accepted: reply.accepted });
        if (reply.accepted) this.#changed(now, verdict.role, null);
        return;
      }
      if (verdict.kind === 'retire') {
        const reply = await scheduler.ask({ type: 'shrink', instance: verdict.instance, reason: verdict.reason, decidedMs: now }, ask);
        this.#record({ timeMs: now, instance: verdict.instance, from: verdict.from, to: null, reason: reply.accepted ? verdict.reason : refused(verdict.reason, reply.reason), accepted: reply.accepted });
        if (reply.accepted) this.#changed(now, verdict.from === 'prefill' ? 'decode' : 'prefill', null);
        return;
      }
      const { instance, from, to, reason, revert } = verdict;
      const reply = await scheduler.ask({ type: 'flip', instance, to, reason, decidedMs: now }, ask);
      this.#record({ timeMs: now, instance, from, to, reason: reply.accepted ? reason : refused(reason, reply.reason), accepted: reply.accepted });
      if (!reply.accepted) return;
      // NOTE: an undone flip blocks its direction; the undo itself is judged like any flip.
      if (revert) this.#blocked = { to: from, untilMs: now + 4 * this.init.options.cooldownMs };
      this.#changed(now, to, revert ? null : to === 'prefill' ? a.ttft : a.tpot);
    } catch {
      // NOTE: an unanswered ask decides nothing; the next tick looks again.
    }
  }

  /** The split changed toward `to`: cooldowns count from now and the window judges the new split only. */
  #changed(now: number, to: ServingRole, attainment: number | null): void {
    this.#lastFlip = { atMs: now, to, attainment };
    this.#window.cut(now);
  }

  #record(d: PlannerDecision): void {
    this.#decisions.push(d);
    if (this.#decisions.length > DECISIONS) this.#decisions.shift();
  }
}
