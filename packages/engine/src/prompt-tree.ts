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
 */
import { prefixKeys, type KvPoolEvent, type KvTier } from '@baton/kv-cache';

/** One instance's cached run of a prompt's leading blocks, by tier. */
export interface CachedRun {
  instance: number;
  /** Leading prompt tokens cached there (full blocks). */
  tokens: number;
  /** Leading prompt tokens cached in its hot tier (what another actor sharing that pool can match). */
  hotTokens: number;
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

  constructor(blockSize: number) {
    if (!Number.isInteger(blockSize) || blockSize < 1) throw new RangeError(`PromptTree: blockSize must be a positive integer, got ${String(blockSize)}`);
    this.#blockSize = blockSize;
  }

  /** Applies one batch of pool events from `instance`. */
  applyBatch(instance: number, events: readonly KvPoolEvent[]): void {
    this.#batches += 1;
    for (const e of events) this.apply(instance, e);
  }

  /** Applies one pool event from `instance`. */
  apply(instance: number, event: KvPoolEvent): void {
    if (event.type === 'insert') for (const k of event.keys) this.#set(instance, k, 'hot');
    else if (event.type === 'swap') for (const k of event.keys) this.#set(instance, k, event.to);
    else for (const k of event.keys) this.#drop(instance, k, event.tier);
  }

  /** Drops everything `instance` held (it restarted with an empty pool, or is gone). */
  forget(instance: number): void {
    const held = this.#held[instance];
    if (held === undefined) return;
    for (const k of held) {
      const node = this.#nodes.get(k);
      node?.delete(instance);
      if (node?.size === 0) this.#nodes.delete(k);
    }
    held.clear();
  }

  /** The prompt's chain keys (full blocks only). */
  keysOf(promptIds: readonly number[]): string[] {
    return prefixKeys(promptIds, this.#blockSize);
  }

  /** Each instance's cached run of `keys` (the prompt's, see keysOf), for instances `0..instances-1`. */
  cachedRuns(keys: readonly string[], instances: number): CachedRun[] {
    const runs: CachedRun[] = Array.from({ length: instances }, (_, instance) => ({ instance, tokens: 0, hotTokens: 0, blocks: { hot: 0, host: 0, disk: 0 } }));
    const open = new Set(runs.map((r) => r.instance));
    const hot = new Set(open);
    for (const key of keys) {
      if (open.size === 0) break;
      const node = this.#nodes.get(key);
      if (node === undefined) break;
      for (const i of [...open]) {
        const tier = node.get(i);
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
    return { nodes: this.#nodes.size, perInstance: this.#held.map((s) => s.size), batches: this.#batches };
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
