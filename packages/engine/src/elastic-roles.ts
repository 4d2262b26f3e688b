/**
 * ElasticRoles: the scheduler's table of elastic instances — which role each serves, which are
 * flipping, being spawned or retiring, and the record of every flip (decision, serving again, cost,
 * what moved) and of every instance spawned or retired. Pure bookkeeping: the scheduler tells it
 * what happened and asks it what to route to.
 *
 * Invariants: a live instance serves exactly one role, or none while it flips or retires (the old
 * role's actor gets no new work, the new role's actor none yet); a change is accepted only when,
 * after it, each role still has at least its minimum serving (flipping and retiring instances do
 * not count) and the target role stays within its maximum (instances flipping to it or being
 * spawned for it count toward it), and live instances stay within `maxInstances`; one change per
 * instance at a time. A flip or retirement completes when the old role's actor said `retired` and
 * the scheduler knows of no request still placed there. Indices are never reused: a retired
 * instance keeps its slot (role null), a spawn takes the next one.
 */
import type { ElasticOptions } from './elastic-options.js';
import type { ElasticStats, FlipRecord, InstanceState, RoleTable, ScaleRecord, ServingRole } from './elastic-protocol.js';

/** A flip (to a role) or a retirement (to null) in progress. */
interface Pending {
  to: ServingRole | null;
  reason: string;
  decidedMs: number;
  retired: boolean;
  handedOver: number;
  drained: number;
  requeued: number;
}

/** A change that completed: a flip, or an instance that retired. */
export type CompletedChange = { kind: 'flip'; record: FlipRecord } | { kind: 'retire'; record: ScaleRecord };

/** Records remembered in stats. */
const RECORDS = 64;

/** The role table of an elastic engine. */
export class ElasticRoles {
  readonly #roles: Array<ServingRole | null>;
  readonly #pending = new Map<number, Pending>();
  readonly #spawning = new Map<number, { role: ServingRole; reason: string; decidedMs: number }>();
  readonly #records: FlipRecord[] = [];
  readonly #scaling: ScaleRecord[] = [];
  readonly #base: number;
  #completed = 0;

  constructor(roles: readonly ServingRole[], private readonly options: ElasticOptions) {
    this.#roles = [...roles];
    this.#base = roles.length;
  }

  /** Instance slots in all (retired ones included). */
  get size(): number {
    return this.#roles.length;
  }

  /** Live instances at start. */
  get base(): number {
    return this.#base;
  }

  /** Instances being spawned now. */
  get spawning(): number {
    return this.#spawning.size;
  }

  /** The role instance `index` serves (or gives up while it changes); null when retired or not spawned yet. */
  roleOf(index: number): ServingRole | null {
    return this.#roles[index] ?? null;
  }

  /** True when the `role` actor of instance `index` takes new work. */
  serves(role: ServingRole, index: number): boolean {
    return this.#roles[index] === role && !this.#pending.has(index);
  }

  /** Instances serving `role` now (flipping and retiring ones excluded). */
  serving(role: ServingRole): number[] {
    return this.#roles.flatMap((r, i) => (this.serves(role, i) ? [i] : []));
  }

  /** The flip or retirement of `index` in progress (`to` null: it retires), or null. */
  flipping(index: number): { from: ServingRole; to: ServingRole | null } | null {
    const p = this.#pending.get(index);
    const from = this.#roles[index];
    return p === undefined || from === null || from === undefined ? null : { from, to: p.to };
  }

  /** Indices of instances flipping or retiring now. */
  get pending(): number[] {
    return [...this.#pending.keys()];
  }

  /** Starts a flip; returns why it is refused, or null when it began. */
  begin(index: number, to: ServingRole, reason: string, decidedMs: number): string | null {
    if (!Number.isInteger(index) || index < 0 || index >= this.#roles.length) return `instance ${index} does not exist (0..${this.#roles.length - 1})`;
    if (to !== 'prefill' && to !== 'decode') return `role ${String(to)} is not prefill or decode`;
    const from = this.#roles[index];
    if (from === null) return `instance ${index} is ${this.#spawning.has(index) ? 'being spawned' : 'retired'}`;
    if (this.#pending.has(index)) return `instance ${index} is already ${this.#pending.get(index)?.to === null ? 'retiring' : `flipping to ${this.#pending.get(index)?.to}`}`;
    if (from === to) return `instance ${index} already serves ${to}`;
    const belowMin = this.#belowMin(from);
    if (belowMin !== null) return belowMin;
    const aboveMax = this.#aboveMax(to);
    if (aboveMax !== null) return aboveMax;
    this.#pending.set(index, { to, reason, decidedMs, retired: false, handedOver: 0, drained: 0, requeued: 0 });
    return null;
  }

  /** Reserves the next index for a new instance of `role`; returns it, or why the spawn is refused. */
  beginSpawn(role: ServingRole, reason: string, decidedMs: number): { instance: number } | { refused: string } {
    if (role !== 'prefill' && role !== 'decode') return { refused: `role ${String(role)} is not prefill or decode` };
    if (this.#spawning.size > 0) return { refused: 'another instance is being spawned' };
    const aboveMax = this.#aboveMax(role);
    if (aboveMax !== null) return { refused: aboveMax };
    const live = this.#live() + this.#spawning.size;
    if (live + 1 > this.options.maxInstances) return { refused: `instances would exceed elastic.maxInstances (${this.options.maxInstances})` };
    const instance = this.#roles.length;
    this.#roles.push(null);
    this.#spawning.set(instance, { role, reason, decidedMs });
    return { instance };
  }

  /** The spawned instance's actors are wired: it serves its role. Returns the record, or null when `instance` was not being spawned. */
  added(instance: number, nowMs: number): ScaleRecord | null {
    const s = this.#spawning.get(instance);
    if (s === undefined) return null;
    this.#spawning.delete(instance);
    this.#roles[instance] = s.role;
    return this.#scale({ action: 'spawn', instance, role: s.role, reason: s.reason, decidedMs: s.decidedMs, doneMs: nowMs });
  }

  /** The spawn of `instance` failed: its slot is given up (it was the last; one spawn runs at a time). */
  spawnFailed(instance: number): void {
    if (!this.#spawning.delete(instance)) return;
    if (instance === this.#roles.length - 1 && this.#roles[instance] === null) this.#roles.pop();
  }

  /** Starts retiring `index` (its role is given up like a flip's, then its actors stop); returns why not, or null. */
  beginRetire(index: number, reason: string, decidedMs: number): string | null {
    const from = this.#roles[index];
    if (!Number.isInteger(index) || from === undefined || from === null) return `instance ${index} is not a live instance`;
    if (this.#pending.has(index)) return `instance ${index} is already changing`;
    const belowMin = this.#belowMin(from);
    if (belowMin !== null) return belowMin;
    this.#pending.set(index, { to: null, reason, decidedMs, retired: false, handedOver: 0, drained: 0, requeued: 0 });
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
   * Completes the flip or retirement of `index` when its old actor retired and `stillPlaced` is
   * false; returns what completed, or null while it goes on.
   */
  complete(index: number, stillPlaced: boolean, nowMs: number): CompletedChange | null {
    const p = this.#pending.get(index);
    const from = this.#roles[index];
    if (p === undefined || !p.retired || stillPlaced || from === null || from === undefined) return null;
    this.#pending.delete(index);
    this.#roles[index] = p.to;
    if (p.to === null) return { kind: 'retire', record: this.#scale({ action: 'retire', instance: index, role: from, reason: p.reason, decidedMs: p.decidedMs, doneMs: nowMs }) };
    this.#completed += 1;
    const record: FlipRecord = {
      instance: index, from, to: p.to, reason: p.reason, policy: this.options.policy, decidedMs: p.decidedMs, servingMs: nowMs,
      costMs: Math.max(0, nowMs - p.decidedMs), handedOver: p.handedOver, drained: p.drained, requeued: p.requeued,
    };
    this.#records.push(record);
    if (this.#records.length > RECORDS) this.#records.shift();
    return { kind: 'flip', record };
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
      scaling: [...this.#scaling],
    };
  }

  /** Every live instance's role and flip target. */
  instances(): InstanceState[] {
    return this.#roles.flatMap((role, index) => (role === null ? [] : [{ index, role, flippingTo: this.#pending.get(index)?.to ?? null, retiring: this.#pending.get(index)?.to === null }]));
  }

  /** The whole table, for the engine's copy. */
  snapshot(): RoleTable {
    return {
      roles: [...this.#roles],
      pending: [...this.#pending].map(([instance, p]) => ({ instance, to: p.to, reason: p.reason, decidedMs: p.decidedMs })),
      spawning: [...this.#spawning].map(([instance, s]) => ({ instance, ...s })),
      flips: [...this.#records],
      completedFlips: this.#completed,
      scaling: [...this.#scaling],
    };
  }

  /**
   * Takes over the engine's copy after a restart: roles, changes in progress (their old actors must
   * be told to retire again; the counts of what moved start over) and the records.
   */
  restore(table: RoleTable): void {
    this.#roles.length = 0;
    this.#roles.push(...table.roles);
    this.#pending.clear();
    for (const p of table.pending) this.#pending.set(p.instance, { to: p.to, reason: p.reason, decidedMs: p.decidedMs, retired: false, handedOver: 0, drained: 0, requeued: 0 });
    this.#spawning.clear();
    for (const s of table.spawning) this.#spawning.set(s.instance, { role: s.role, reason: s.reason, decidedMs: s.decidedMs });
    this.#records.length = 0;
    this.#records.push(...table.flips);
    this.#scaling.length = 0;
    this.#scaling.push(...table.scaling);
    this.#completed = table.completedFlips;
  }

  #live(): number {
    return this.#roles.filter((r) => r !== null).length;
  }

  #belowMin(from: ServingRole): string | null {
    const min = from === 'prefill' ? this.options.minPrefill : this.options.minDecode;
    return this.serving(from).length - 1 < min ? `${from} would fall below its minimum of ${min} serving instance(s)` : null;
  }

  #aboveMax(to: ServingRole): string | null {
    const max = to === 'prefill' ? this.options.maxPrefill : this.options.maxDecode;
    const toward = this.serving(to).length + [...this.#pending.values()].filter((p) => p.to === to).length + [...this.#spawning.values()].filter((s) => s.role === to).length;
    return toward + 1 > max ? `${to} would exceed its maximum of ${max} instance(s)` : null;
  }

  #scale(record: ScaleRecord): ScaleRecord {
    this.#scaling.push(record);
    if (this.#scaling.length > RECORDS) this.#scaling.shift();
    return record;
  }
}
