/**
 * ElasticRoles: the scheduler's table of elastic instances — which role each serves, which are
 * flipping, and the record of every flip (decision, serving again, cost, what moved). Pure
 * bookkeeping: the scheduler tells it what happened and asks it what to route to.
 *
 * Invariants: an instance serves exactly one role, or none while it flips (the old role's actor
 * gets no new work, the new role's actor none yet); a flip is accepted only when, after it, each
 * role still has at least its minimum serving (flipping instances do not count) and the target
 * role stays within its maximum (flipping instances count toward it); one flip per instance at a
 * time. A flip completes when the old role's actor said `retired` and the scheduler knows of no
 * request still placed there.
 */
import type { ElasticOptions } from './elastic-options.js';
import type { ElasticStats, FlipRecord, InstanceState, ServingRole } from './elastic-protocol.js';

/** A flip in progress. */
interface Pending {
  to: ServingRole;
  reason: string;
  decidedMs: number;
  retired: boolean;
  handedOver: number;
  drained: number;
  requeued: number;
}

/** Flips remembered in stats. */
const RECORDS = 64;

/** The role table of an elastic engine. */
export class ElasticRoles {
  readonly #roles: ServingRole[];
  readonly #pending = new Map<number, Pending>();
  readonly #records: FlipRecord[] = [];
  #completed = 0;

  constructor(roles: readonly ServingRole[], private readonly options: ElasticOptions) {
    this.#roles = [...roles];
  }

  /** Instances in all. */
  get size(): number {
    return this.#roles.length;
  }

  /** True when the `role` actor of instance `index` takes new work. */
  serves(role: ServingRole, index: number): boolean {
    return this.#roles[index] === role && !this.#pending.has(index);
  }

  /** Instances serving `role` now (flipping ones excluded). */
  serving(role: ServingRole): number[] {
    return this.#roles.flatMap((r, i) => (this.serves(role, i) ? [i] : []));
  }

  /** The flip of `index` in progress, or null. */
  flipping(index: number): { from: ServingRole; to: ServingRole } | null {
    const p = this.#pending.get(index);
    return p === undefined ? null : { from: this.#roles[index], to: p.to };
  }

  /** Indices of instances flipping now. */
  get pending(): number[] {
    return [...this.#pending.keys()];
  }

  /** Starts a flip; returns why it is refused, or null when it began. */
  begin(index: number, to: ServingRole, reason: string, decidedMs: number): string | null {
    if (!Number.isInteger(index) || index < 0 || index >= this.#roles.length) return `instance ${index} does not exist (0..${this.#roles.length - 1})`;
    if (to !== 'prefill' && to !== 'decode') return `role ${String(to)} is not prefill or decode`;
    if (this.#pending.has(index)) return `instance ${index} is already flipping to ${this.#pending.get(index)?.to}`;
    const from = this.#roles[index];
    if (from === to) return `instance ${index} already serves ${to}`;
    const min = from === 'prefill' ? this.options.minPrefill : this.options.minDecode;
    if (this.serving(from).length - 1 < min) return `${from} would fall below its minimum of ${min} serving instance(s)`;
    const max = to === 'prefill' ? this.options.maxPrefill : this.options.maxDecode;
    const toward = this.serving(to).length + [...this.#pending.values()].filter((p) => p.to === to).length;
    if (toward + 1 > max) return `${to} would exceed its maximum of ${max} instance(s)`;
    this.#pending.set(index, { to, reason, decidedMs, retired: false, handedOver: 0, drained: 0, requeued: 0 });
    return null;
  }

  /** The old role's actor of `index` holds nothing any more. */
  retired(role: ServingRole, index: number): void {
    const p = this.#pending.get(index);
    if (p !== undefined && this.#roles[index] === role) p.retired = true;
  }

  /** The old role's actor of `index` restarted: it must be told to retire again, and say so again. */
  restarted(index: number): void {
    const p = this.#pending.get(index);
    if (p !== undefined) p.retired = false;
  }

  /** Counts what a flip did: a sequence handed over, one that finished in place, a prompt requeued. */
  count(index: number, what: 'handedOver' | 'drained' | 'requeued', n = 1): void {
    const p = this.#pending.get(index);
    if (p !== undefined) p[what] += n;
  }

  /**
   * Completes the flip of `index` when its old actor retired and `stillPlaced` is false; returns
   * the record, or null while it goes on.
   */
  complete(index: number, stillPlaced: boolean, nowMs: number): FlipRecord | null {
    const p = this.#pending.get(index);
    if (p === undefined || !p.retired || stillPlaced) return null;
    const from = this.#roles[index];
    this.#pending.delete(index);
    this.#roles[index] = p.to;
    this.#completed += 1;
    const record: FlipRecord = {
      instance: index, from, to: p.to, reason: p.reason, policy: this.options.policy, decidedMs: p.decidedMs, servingMs: nowMs,
      costMs: Math.max(0, nowMs - p.decidedMs), handedOver: p.handedOver, drained: p.drained, requeued: p.requeued,
    };
    this.#records.push(record);
    if (this.#records.length > RECORDS) this.#records.shift();
    return record;
  }

  /** Stats for `stats().scheduler.elastic`. */
  stats(): ElasticStats {
    return {
      mode: this.options.mode,
      instances: this.instances(),
      prefill: this.serving('prefill').length,
      decode: this.serving('decode').length,
      flips: [...this.#records],
      completedFlips: this.#completed,
    };
  }

  /** Every instance's role and flip target. */
  instances(): InstanceState[] {
    return this.#roles.map((role, index) => ({ index, role, flippingTo: this.#pending.get(index)?.to ?? null }));
  }
}
