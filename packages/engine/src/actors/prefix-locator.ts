/**
 * PrefixLocator: the scheduler's view of where cached prompt prefixes live — the global prompt tree
 * (kept from the serving actors' batched pool events), each actor's KV site, and Mooncake's
 * transfer-with-insert bookkeeping (transfers asked and their measured throughput, from the ask to
 * the answer, so a busy holder's queue counts; a prior before the first).
 *
 * Invariants: tree instance 2i is prefill (or colocated) actor i and 2d + 1 decode actor d, so an
 * instance is known before the scheduler is wired (sites report on start). The tree is a hint: a
 * stale entry makes the chosen actor recompute (it always matches its own pool), never reuse wrong KV.
 */
import type { BlockPool } from '@baton/kv-cache';
import { PromptTree, type PromptTreeStats } from '../prompt-tree.js';
import type { KvSite, SchedulerMsg, SchedulerWiring, WireRequest } from '../protocol.js';
import type { PrefillLoad, RemotePrefix, TransferRule } from '../scheduler-policy.js';
import { ThroughputEstimator } from '../throughput-estimator.js';

/**
 * KV transfer throughput between instances before one is measured, tokens/s.
 * NOTE: about 8x the prefill prior's share on a loopback stream (bench:kv moves a 512-token
 * prompt's KV in tens of ms); measured transfers replace it.
 */
const PRIOR_TRANSFER_TOKENS_PER_S = 20_000;

/** What the locator reads from its scheduler. */
export interface PrefixLocatorDeps {
  blockSize: number;
  cacheEnabled: boolean;
  /** The prefill actors' pool, when the scheduler shares it (its hot prefixes count for every actor). */
  pool: BlockPool | null;
  /** The actor name of a KV site (as load reports and health name it). */
  siteActor: (site: KvSite) => string;
  isDown: (actor: string) => boolean;
  now: () => number;
}

/** Prefix credit per prefill (or colocated) actor and the transfer rule's view of other pools. */
export interface PrefixCredit {
  credit: (id: string) => number;
  transfer: TransferRule;
}

/** Where cached prefixes live and what moving them costs (see the file header). */
export class PrefixLocator {
  readonly #deps: PrefixLocatorDeps;
  readonly #tree: PromptTree;
  /** KV sites of the serving actors, by tree instance (from their event batches). */
  readonly #sites = new Map<number, KvSite>();
  readonly #transferRate = new ThroughputEstimator({ priorTokensPerSecond: PRIOR_TRANSFER_TOKENS_PER_S });
  readonly #transfers = { asked: 0, arrivedTokens: 0 };
  /** When each transfer in flight was asked for, by request id. */
  readonly #askedAt = new Map<string, number>();

  constructor(deps: PrefixLocatorDeps) {
    this.#deps = deps;
    this.#tree = new PromptTree(deps.blockSize);
  }

  /** Tree instance of a serving actor's KV site. */
  static instanceOf(role: KvSite['role'], index: number): number {
    return role === 'decode' ? 2 * index + 1 : 2 * index;
  }

  /** A serving actor's batch of pool events (`reset`: it starts from an empty pool). */
  cacheEvents(m: Extract<SchedulerMsg, { type: 'cacheEvents' }>): void {
    const instance = PrefixLocator.instanceOf(m.site.role, m.site.index);
    this.#sites.set(instance, m.site);
    if (m.reset) this.#tree.forget(instance);
    const sharing = [...this.#sites].filter(([i, site]) => i !== instance && site.poolId === m.site.poolId).map(([i]) => i);
    this.#tree.applyBatch(instance, m.events, sharing);
  }

  /** A prompt routed to prefill actor `target` counts as cached there until inserted. */
  addPending(requestId: string, target: number, promptIds: readonly number[]): void {
    this.#tree.addPending(requestId, PrefixLocator.instanceOf('prefill', target), this.#tree.keysOf(promptIds));
  }

  /** A request ended (finished or aborted): its pending prefix and transfer are forgotten. */
  settle(requestId: string): void {
    this.#askedAt.delete(requestId);
    this.#tree.settle(requestId);
  }

  /**
   * Prefix credit per prefill (or colocated) actor — what the prompt tree says it holds in any tier,
   * what actors sharing its pool hold hot, or the shared pool's hot prefix when the scheduler shares
   * it — and the transfer rule's view: the longest prefix held in another pool, by an actor that is up.
   */
  creditFor(request: WireRequest, loads: readonly PrefillLoad[], decodeCount: number): PrefixCredit {
    const none = { credit: () => 0, transfer: { remoteFor: () => null, tokensPerSecond: this.#transferRate.tokensPerSecond } };
    if (!this.#deps.cacheEnabled) return none;
    const instances = 2 * Math.max(loads.length, decodeCount);
    const runs = this.#tree.cachedRuns(this.#tree.keysOf(request.promptIds), instances);
    const shared = this.#deps.pool?.cachedPrefixLength(request.promptIds) ?? 0;
    const sites = [...this.#sites].filter(([i, site]) => i < instances && !this.#deps.isDown(this.#deps.siteActor(site)));
    const local = (i: number): number => {
      const pool = this.#sites.get(i)?.poolId;
      const sharing = sites.filter(([j, site]) => j !== i && site.poolId === pool).map(([j]) => runs[j].hotTokens);
      return Math.max(shared, runs[i]?.tokens ?? 0, ...sharing);
    };
    const instanceOfId = (id: string): number => PrefixLocator.instanceOf('prefill', loads.findIndex((l) => l.id === id));
    const remoteFor = (id: string): RemotePrefix | null => {
      const mine = this.#sites.get(instanceOfId(id));
      if (mine === undefined || mine.endpoint === null) return null;
      let best: RemotePrefix | null = null;
      for (const [j, site] of sites) {
        if (site.poolId !== mine.poolId && runs[j].heldTokens > (best?.tokens ?? 0)) best = { source: String(j), tokens: runs[j].heldTokens };
      }
      return best;
    };
    return {
      credit: (id) => local(instanceOfId(id)),
      transfer: { remoteFor, tokensPerSecond: this.#transferRate.tokensPerSecond },
    };
  }

  /** Tells the instance holding the prefix to send it into prefill actor `target`'s pool; false when it cannot be asked. */
  sendPrefix(refs: SchedulerWiring, request: WireRequest, source: number, target: number, tokens: number): boolean {
    const site = this.#sites.get(source);
    const to = this.#sites.get(PrefixLocator.instanceOf('prefill', target))?.endpoint ?? null;
    const ref = site === undefined ? undefined : site.role === 'decode' ? refs.decode[site.index] : refs.prefill[site.index];
    if (ref === undefined || to === null) return false;
    this.#transfers.asked += 1;
    this.#askedAt.set(request.id, this.#deps.now());
    ref.tell({ type: 'sendPrefix', requestId: request.id, promptIds: request.promptIds.slice(0, tokens), to });
    return true;
  }

  /** A transfer ended: its tokens and time feed the transfer throughput. */
  prefixSent(requestId: string, tokens: number): void {
    const askedAt = this.#askedAt.get(requestId);
    this.#askedAt.delete(requestId);
    if (tokens > 0 && askedAt !== undefined) {
      this.#transfers.arrivedTokens += tokens;
      this.#transferRate.observe(tokens, this.#deps.now() - askedAt);
    }
  }

  /** The prompt tree's numbers. */
  treeStats(): PromptTreeStats {
    return this.#tree.stats();
  }

  /** Transfers asked, and tokens of KV that arrived. */
  transferStats(): { asked: number; arrivedTokens: number } {
    return { ...this.#transfers };
  }
}
