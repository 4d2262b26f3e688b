/**
 * ElasticControl: the scheduler's side of role flips. It keeps the role table (ElasticRoles),
 * answers which actors take new work, starts a flip (the old role's actor is told to retire: a
 * decode actor gets the serving decode actors it may hand sequences to, with their free KV),
 * follows what retiring actors report (sequences moved, prompts given back, retired) and completes
 * the flip once nothing is left placed on the old role, when the new role's actor is activated.
 * Spawns and retirements go the same way: a spawn reserves the next instance index and asks the
 * engine for the instance's actors (`spawnInstance`, answered by `instanceAdded`); a retirement
 * gives up the instance's role like a flip, then asks the engine to stop its actors
 * (`removeInstance`). Every change of the table is published to the engine (`roles`), which gives
 * the table back to a restarted scheduler (`restoreRoles`).
 *
 * Invariants: it never awaits another actor; prompts given back are routed again to a serving
 * prefill actor with their decode choice, if made, re-sent there (the request keeps its wire id,
 * so its tokens still find the caller); an actor of a flipping instance that restarts, or of one
 * flipping when the scheduler restarted, is told to retire again (its new incarnation, or the
 * scheduler's, knows nothing of the flip).
 */
import type { ActorRef } from '@baton/actors';
import type { ElasticOptions } from '../elastic-options.js';
import type { ElasticClientMsg, ElasticStats, ElasticView, FlipReply, GrowReply, RoleTable, ServingRole } from '../elastic-protocol.js';
import { ElasticRoles, type CompletedChange } from '../elastic-roles.js';
import type { ClientMsg, SchedulerMsg, SchedulerWiring, WireRequest } from '../protocol.js';
import { choosePrefill, type DecodeLoad, type PrefillLoad } from '../scheduler-policy.js';

/** What the scheduler keeps per request that a flip reads and updates. */
export interface PlacedRequest {
  request: WireRequest;
  target: number;
  decode: number | null;
}

/** The scheduler state ElasticControl works on. */
export interface ElasticControlDeps {
  refs: () => SchedulerWiring;
  prefillLoads: () => PrefillLoad[];
  decodeLoads: () => DecodeLoad[];
  inFlight: ReadonlyMap<string, PlacedRequest>;
  isDown: (actor: string) => boolean;
  client: ActorRef<ClientMsg>;
  /** The engine's elastic inbox: role table copies, spawns, retirements. */
  host: ActorRef<ElasticClientMsg>;
  now: () => number;
}

type Msg<T extends SchedulerMsg['type']> = Extract<SchedulerMsg, { type: T }>;

/** First tokens kept for the planner's window. */
const FIRST_TOKENS = 1_024;

/** The elastic part of one scheduler. */
export class ElasticControl {
  readonly #roles: ElasticRoles;
  /** Requests whose decode choice moved off a retiring decode instance, with that instance (aborts go there too). */
  readonly #reassigned = new Map<string, number>();
  /** First tokens of the last planner window, oldest first (bounded). */
  readonly #firstTokens: Array<{ timeMs: number; ttftMs: number }> = [];

  constructor(roles: readonly ServingRole[], private readonly options: ElasticOptions, private readonly deps: ElasticControlDeps) {
    this.#roles = new ElasticRoles(roles, options);
  }

  /** True when the `role` actor at `index` takes new work. */
  serves(role: ServingRole, index: number): boolean {
    return this.#roles.serves(role, index);
  }

  /** With no decode choice from the policy: the serving decode actor with the fewest sequences, preferring ones that are up. */
  fallbackDecode(): number | null {
    const loads = this.deps.decodeLoads();
    const serving = this.#roles.serving('decode');
    const rank = (i: number): [number, number] => [this.deps.isDown(loads[i]?.id ?? '') ? 1 : 0, (loads[i]?.running ?? 0) + (loads[i]?.queued ?? 0)];
    const best = serving.sort((a, b) => rank(a)[0] - rank(b)[0] || rank(a)[1] - rank(b)[1] || a - b)[0];
    return best ?? null;
  }

  /** Starts a flip; the reply says whether it began. */
  flip(m: Msg<'flip'>): FlipReply {
    const refused = this.#roles.begin(m.instance, m.to, m.reason, m.decidedMs);
    if (refused !== null) return { accepted: false, reason: refused };
    this.#retire(m.instance);
    this.#publish();
    this.check();
    return { accepted: true };
  }

  /** Starts a spawn of an instance serving `role`: the engine is asked for its actors. */
  grow(m: Msg<'grow'>): GrowReply {
    const r = this.#roles.beginSpawn(m.role, m.reason, m.decidedMs);
    if ('refused' in r) return { accepted: false, reason: r.refused };
    this.#publish();
    this.deps.host.tell({ type: 'spawnInstance', instance: r.instance, role: m.role });
    return { accepted: true, instance: r.instance };
  }

  /** The engine spawned `instance` and wired its refs: it serves its role from now on. */
  instanceAdded(m: Msg<'instanceAdded'>): void {
    if (this.#roles.added(m.instance, this.deps.now()) !== null) this.#publish();
  }

  /** The engine could not spawn `instance`. */
  spawnFailed(m: Msg<'spawnFailed'>): void {
    this.#roles.spawnFailed(m.instance);
    this.#publish();
  }

  /** Starts retiring an instance: its role is given up like a flip's, then the engine stops its actors. */
  shrink(m: Msg<'shrink'>): FlipReply {
    const refused = this.#roles.beginRetire(m.instance, m.reason, m.decidedMs);
    if (refused !== null) return { accepted: false, reason: refused };
    this.#retire(m.instance);
    this.#publish();
    this.check();
    return { accepted: true };
  }

  /** After a scheduler restart: the engine's copy of the table; changes in progress start their retirement again. */
  restore(table: RoleTable): void {
    this.#roles.restore(table);
    for (const index of this.#roles.pending) this.#retire(index);
    this.check();
  }

  /** A retiring decode actor handed `requestId` to decode actor `to` (where it runs now, whatever was chosen before). */
  moved(m: Msg<'moved'>): void {
    const f = this.deps.inFlight.get(m.requestId);
    this.#reassigned.delete(m.requestId);
    if (f !== undefined) {
      f.decode = m.to;
      const load = this.deps.decodeLoads()[m.to];
      if (load !== undefined) load.queued += 1;
    }
    this.#roles.count(m.from, 'handedOver');
    this.check();
  }

  /** A retiring prefill actor gave back prompts it had not started: each goes to a serving prefill actor. */
  requeue(m: Msg<'requeue'>): void {
    const refs = this.deps.refs();
    const loads = this.deps.prefillLoads();
    for (const request of m.requests) {
      const f = this.deps.inFlight.get(request.id);
      if (f === undefined || f.target !== m.from) continue;
      const serving = this.#roles.serving('prefill').map((i) => loads[i]).filter((l) => l !== undefined);
      const up = serving.filter((l) => !this.deps.isDown(l.id));
      const picked = choosePrefill(request, up.length > 0 ? up : serving, () => 0);
      const target = picked === null ? -1 : loads.findIndex((l) => l.id === picked.actorId);
      if (target < 0) continue;
      f.target = target;
      loads[target].queuedRequests += 1;
      loads[target].queuedPromptTokens += request.promptIds.length;
      this.deps.client.tell({ type: 'placed', requestId: request.id, actor: loads[target].id, role: 'prefill' });
      // NOTE: a variable, not a literal, so this stays valid whatever optional fields `prefill` carries.
      const prefill = { type: 'prefill' as const, request, awaitsPrefix: false };
      refs.prefill[target].tell(prefill);
      if (f.decode !== null) refs.prefill[target].tell({ type: 'assignDecode', requestId: request.id, decode: f.decode });
      this.#roles.count(m.from, 'requeued');
    }
    this.check();
  }

  /** A retiring actor holds nothing of its old role. */
  retired(m: Msg<'retired'>): void {
    this.#roles.retired(m.role, m.index);
    this.check();
  }

  /** An actor is back (restarted, or answering again): if its instance is flipping away from its role, it retires again. */
  actorUp(actor: string): void {
    for (const index of this.#roles.pending) {
      const from = this.#roles.flipping(index)?.from;
      const ref = from === 'decode' ? this.deps.refs().decode[index] : this.deps.refs().prefill[index];
      if (ref?.name !== actor) continue;
      this.#roles.restarted(index);
      this.#retire(index);
    }
  }

  /** A request was aborted: one whose decode choice moved off a retiring instance may still reach it, so it hears the abort too. */
  aborted(requestId: string): void {
    const from = this.#reassigned.get(requestId);
    this.#reassigned.delete(requestId);
    if (from !== undefined) this.deps.refs().decode[from]?.tell({ type: 'abort', requestId });
    this.check();
  }

  /** A request left the scheduler (finished): a sequence that finished on a retiring decode actor drained there. */
  finished(f: PlacedRequest): void {
    this.#reassigned.delete(f.request.id);
    if (f.decode !== null && this.#roles.flipping(f.decode)?.from === 'decode') this.#roles.count(f.decode, 'drained');
    this.check();
  }

  /** Completes every flip (and retirement) whose old role holds nothing placed any more. */
  check(): CompletedChange[] {
    const done: CompletedChange[] = [];
    for (const index of this.#roles.pending) {
      const from = this.#roles.flipping(index)?.from;
      const placed = [...this.deps.inFlight.values()].some((f) => (from === 'decode' ? f.decode === index : false));
      const change = this.#roles.complete(index, placed, this.deps.now());
      if (change === null) continue;
      const refs = this.deps.refs();
      if (change.kind === 'retire') this.deps.host.tell({ type: 'removeInstance', instance: index });
      else (change.record.to === 'decode' ? refs.decode[index] : refs.prefill[index])?.tell({ type: 'activate' });
      done.push(change);
    }
    if (done.length > 0) this.#publish();
    return done;
  }

  /** A fresh attempt's first token left its prefill after `ttftMs`. */
  firstToken(ttftMs: number): void {
    const now = this.deps.now();
    this.#firstTokens.push({ timeMs: now, ttftMs });
    while (this.#firstTokens.length > 0 && (this.#firstTokens.length > FIRST_TOKENS || this.#firstTokens[0].timeMs < now - this.options.windowMs)) this.#firstTokens.shift();
  }

  /** What the planner reads. */
  view(): ElasticView {
    const p = this.#roles.serving('prefill').map((i) => this.deps.prefillLoads()[i]).filter((l) => l !== undefined);
    const d = this.#roles.serving('decode').map((i) => this.deps.decodeLoads()[i]).filter((l) => l !== undefined);
    const total = d.reduce((n, l) => n + l.totalKvBlocks, 0);
    const steps = d.flatMap((l) => (l.stepMs === null ? [] : [l.stepMs]));
    return {
      instances: this.#roles.instances(),
      baseInstances: this.#roles.base,
      spawning: this.#roles.spawning,
      firstTokens: [...this.#firstTokens],
      prefill: {
        queuedRequests: p.reduce((n, l) => n + l.queuedRequests, 0),
        queuedPromptTokens: p.reduce((n, l) => n + l.queuedPromptTokens, 0),
        tokensPerSecond: p.reduce((n, l) => n + l.tokensPerSecond, 0),
      },
      decode: {
        queued: d.reduce((n, l) => n + l.queued, 0),
        running: d.reduce((n, l) => n + l.running, 0),
        kvUsage: total === 0 ? 0 : 1 - d.reduce((n, l) => n + l.freeKvBlocks, 0) / total,
        stepMs: steps.length === 0 ? null : Math.max(...steps),
      },
    };
  }

  stats(): ElasticStats {
    return this.#roles.stats();
  }

  /** Tells the engine the table changed (it keeps the copy a restarted scheduler gets back). */
  #publish(): void {
    this.deps.host.tell({ type: 'roles', table: this.#roles.snapshot() });
  }

  /** Tells the old role's actor of `index` to retire. */
  #retire(index: number): void {
    const flip = this.#roles.flipping(index);
    if (flip === null) return;
    const refs = this.deps.refs();
    if (flip.from === 'prefill') {
      refs.prefill[index]?.tell({ type: 'retire', policy: this.options.policy });
      return;
    }
    const loads = this.deps.decodeLoads();
    const targets = this.#roles.serving('decode').map((i) => ({ index: i, freeKvBlocks: loads[i]?.freeKvBlocks ?? 0 }));
    refs.decode[index]?.tell({ type: 'retire', policy: this.options.policy, decoders: refs.decode, targets });
    this.#reassign(index);
  }

  /**
   * Requests placed on retiring decode instance `index` whose prompt may still be queued get
   * another decode choice: a prefill actor still holding the prompt hands it there, so the flip
   * need not wait for the prefill queue. NOTE: one whose prefill already started still reaches
   * `index`, which hands it over (`moved` then says where it runs).
   */
  #reassign(index: number): void {
    const refs = this.deps.refs();
    for (const [requestId, f] of this.deps.inFlight) {
      if (f.decode !== index) continue;
      const to = this.fallbackDecode();
      if (to === null) return;
      f.decode = to;
      this.#reassigned.set(requestId, index);
      const load = this.deps.decodeLoads()[to];
      if (load !== undefined) load.queued += 1;
      refs.prefill[f.target]?.tell({ type: 'assignDecode', requestId, decode: to });
      this.deps.client.tell({ type: 'placed', requestId, actor: refs.decode[to]?.name ?? `decode-${to}`, role: 'decode' });
    }
  }
}
