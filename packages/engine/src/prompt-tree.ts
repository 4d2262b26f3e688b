/**
 * PromptTree: the scheduler's global index of which serving instance holds which cached prefix,
 * in which tier. Nodes are the chain keys of full KV blocks (`prefixKeys(tokens, blockSize)` of
 * @baton/kv-cache, the keys the instances' memory pools name their blocks by). A chain key
 * depends on every token before it, so a key names its whole path from the root: the tree is
 * stored as one map from key to node, and walking a prompt's keys in order is the descent.
 *
 * It is updated only from the pools' insert / swap / evict events that the instances send in
 * batches (never by polling), so it may lag or miss an eviction: its answers are routing hints.
 * Invariants: a node exists only while some instance holds its key (in some tier); an instance's
 * cached length for a prompt is the run of leading keys it holds (any tier), as a pool's tiered
 * match would find it. A stale entry costs a recompute, never a wrong token: the instance
 * always matches its own pool before it reuses anything.
 *
 * Pending prefixes: a prompt the scheduler has routed to an instance but whose blocks that
 * instance has not inserted yet (queued or prefilling) counts as held there, in the hot tier, so
 * the next turn of a conversation finds the instance that is about to hold it. A pending entry
 * goes when the instance inserts the prompt's last full block, or when the scheduler settles it
 * (the request failed, was aborted or finished). Pending keys are never a transfer source
 * (`heldTokens` leaves them out): there is nothing to move yet.
 */
import { prefixKeys, type KvPoolEvent, type KvTier } from '@baton/kv-cache';

/** One instance's cached run of a prompt's leading blocks, by tier. */
export interface CachedRun {
  instance: number;
  /** Leading prompt tokens cached there (full blocks). */
  tokens: number;
  /** Leading prompt tokens cached in its hot tier (what another actor sharing that pool can match). */
  hotTokens: number;
  /** Leading prompt tokens it really holds, pending prefixes left out (what it could send elsewhere). */
  heldTokens: number;
  blocks: { hot: number; host: number; disk: number };
}

/** Tree size for stats. */
export interface PromptTreeStats {
  /** Distinct block keys held anywhere. */
  nodes: number;
  /** Keys held, per instance (every tier), indexed by instance. */
  perInstance: number[];
  /** Event batches applied. */
  batches: number;
  /** Prompts routed to an instance whose blocks are not inserted there yet. */
  pending: number;
}

/** A prompt routed to an instance, not inserted there yet. */
interface Pending {
  instance: number;
  keys: readonly string[];
}

/** A tree node: which instances hold this block, in which tier. */
type Node = Map<number, KvTier>;

/** Global prompt tree over block chain keys; see the file header. */
export class PromptTree {
  readonly #blockSize: number;
  readonly #nodes = new Map<string, Node>();
  /** Keys per instance, so forgetting an instance does not scan the tree. */
  readonly #held: Set<string>[] = [];
  #batches = 0;
  /** Pending prompts by request id. */
  readonly #pending = new Map<string, Pending>();
  /** Per key, per instance: how many pending prompts cover it. */
  readonly #pendingKeys = new Map<string, Map<number, number>>();
  /** Pending request ids by `instance:last key` (an insert of that key settles them). */
  readonly #pendingByLast = new Map<string, Set<string>>();

  constructor(blockSize: number) {
    if (!Number.isInteger(blockSize) || blockSize < 1) throw new RangeError(`PromptTree: blockSize must be a positive integer, got ${String(blockSize)}`);
    this.#blockSize = blockSize;
  }

  /**
   * Applies one batch of pool events from `instance`; `sharing`: the other instances attached to
   * the same pool (see apply).
   */
  applyBatch(instance: number, events: readonly KvPoolEvent[], sharing: readonly number[] = []): void {
    this.#batches += 1;
    for (const e of events) this.apply(instance, e, sharing);
  }

  /**
   * Applies one pool event from `instance`. A block that leaves the hot tier (evicted, or swapped
   * down) leaves it for every instance in `sharing` too. NOTE: instances attached to one pool
   * share its hot blocks (one block per key), but only the view that evicted a block hears of it.
   */
  apply(instance: number, event: KvPoolEvent, sharing: readonly number[] = []): void {
    const leavesHot = (event.type === 'evict' && event.tier === 'hot') || (event.type === 'swap' && event.from === 'hot');
    if (leavesHot) for (const j of sharing) if (j !== instance) for (const k of event.keys) this.#drop(j, k, 'hot');
    if (event.type === 'insert') {
      for (const k of event.keys) this.#set(instance, k, 'hot');
      for (const k of event.keys) for (const id of [...(this.#pendingByLast.get(`${instance}:${k}`) ?? [])]) this.settle(id);
    } else if (event.type === 'swap') for (const k of event.keys) this.#set(instance, k, event.to);
    else for (const k of event.keys) this.#drop(instance, k, event.tier);
  }

  /** Drops everything `instance` held (it restarted with an empty pool, or is gone). */
  forget(instance: number): void {
    for (const [id, p] of [...this.#pending]) if (p.instance === instance) this.settle(id);
    const held = this.#held[instance];
    if (held === undefined) return;
    for (const k of held) {
      const node = this.#nodes.get(k);
      node?.delete(instance);
      if (node?.size === 0) this.#nodes.delete(k);
    }
    held.clear();
  }

  /**
   * Counts `keys` (a prompt's, see keysOf) as held by `instance` until it inserts the last of
   * them or `settle(requestId)` is called. A second call for the same request replaces the first.
   */
  addPending(requestId: string, instance: number, keys: readonly string[]): void {
    this.settle(requestId);
    if (keys.length === 0) return;
    this.#pending.set(requestId, { instance, keys });
    for (const k of keys) {
      const m = this.#pendingKeys.get(k) ?? new Map<number, number>();
      m.set(instance, (m.get(instance) ?? 0) + 1);
      this.#pendingKeys.set(k, m);
    }
    const last = `${instance}:${keys[keys.length - 1]}`;
    const ids = this.#pendingByLast.get(last) ?? new Set<string>();
    ids.add(requestId);
    this.#pendingByLast.set(last, ids);
  }

  /** Drops the pending prompt of `requestId`, if any (inserted, failed, aborted or finished). */
  settle(requestId: string): void {
    const p = this.#pending.get(requestId);
    if (p === undefined) return;
    this.#pending.delete(requestId);
    for (const k of p.keys) {
      const m = this.#pendingKeys.get(k);
      const n = (m?.get(p.instance) ?? 0) - 1;
      if (n > 0) m?.set(p.instance, n);
      else m?.delete(p.instance);
      if (m?.size === 0) this.#pendingKeys.delete(k);
    }
    const last = `${p.instance}:${p.keys[p.keys.length - 1]}`;
    const ids = this.#pendingByLast.get(last);
    ids?.delete(requestId);
    if (ids?.size === 0) this.#pendingByLast.delete(last);
  }

  /** The prompt's chain keys (full blocks only). */
  keysOf(promptIds: readonly number[]): string[] {
    return prefixKeys(promptIds, this.#blockSize);
  }

  /** Each instance's cached run of `keys` (the prompt's, see keysOf), for instances `0..instances-1`. */
  cachedRuns(keys: readonly string[], instances: number): CachedRun[] {
    const runs: CachedRun[] = Array.from({ length: instances }, (_, instance) => ({ instance, tokens: 0, hotTokens: 0, heldTokens: 0, blocks: { hot: 0, host: 0, disk: 0 } }));
    const open = new Set(runs.map((r) => r.instance));
    const hot = new Set(open);
    const held = new Set(open);
    for (const key of keys) {
      if (open.size === 0) break;
      const node = this.#nodes.get(key);
      const pending = this.#pendingKeys.get(key);
      if (node === undefined && pending === undefined) break;
      for (const i of [...open]) {
        const real = node?.get(i);
        // NOTE: a pending prefix will be inserted hot; a real entry wins for the tier it names.
        const tier = real ?? (pending?.has(i) === true ? 'hot' : undefined);
        if (real === undefined) held.delete(i);
        else if (held.has(i)) runs[i].heldTokens += this.#blockSize;
        if (tier === undefined) {
          open.delete(i);
          hot.delete(i);
          continue;
        }
        runs[i].blocks[tier] += 1;
        runs[i].tokens += this.#blockSize;
        if (tier !== 'hot') hot.delete(i);
        else if (hot.has(i)) runs[i].hotTokens += this.#blockSize;
      }
    }
    return runs;
  }

  /** Leading tokens of `promptIds` that `instance` holds (any tier), by the tree. */
  cachedTokens(instance: number, promptIds: readonly number[]): number {
    return this.cachedRuns(this.keysOf(promptIds), instance + 1)[instance].tokens;
  }

  stats(): PromptTreeStats {
    return { nodes: this.#nodes.size, perInstance: this.#held.map((s) => s.size), batches: this.#batches, pending: this.#pending.size };
  }

  #set(instance: number, key: string, tier: KvTier): void {
    let node = this.#nodes.get(key);
    if (node === undefined) {
      node = new Map();
      this.#nodes.set(key, node);
    }
    node.set(instance, tier);
    (this.#held[instance] ??= new Set()).add(key);
    for (let i = 0; i < this.#held.length; i++) this.#held[i] ??= new Set();
  }

  /** NOTE: an evict names the tier it left; a later swap may already have moved the key elsewhere, so only that tier's entry goes. */
  #drop(instance: number, key: string, tier: KvTier): void {
    const node = this.#nodes.get(key);
    if (node === undefined || node.get(instance) !== tier) return;
    node.delete(instance);
    if (node.size === 0) this.#nodes.delete(key);
    this.#held[instance]?.delete(key);
  }
}
