/**
 * KvMemPool: an explicit memory-pool API over a BlockPool with three tiers for cached prefixes:
 * - hot: the BlockPool itself (SharedArrayBuffer, every thread of the process, prefix index);
 * - host: ordinary memory of this thread (host-tier.ts), bounded in blocks;
 * - disk: checksummed block files under a directory (disk-tier.ts), bounded in bytes.
 * Under pressure, idle cached hot blocks (least recently used first) move down to host instead of
 * being dropped, and host overflow moves down to disk; only disk overflow drops blocks. A match
 * that runs past the hot prefix continues in host and disk and brings those blocks back up (disk
 * reads are asynchronous and run in parallel), re-indexing them in the hot pool.
 *
 * Invariants: tiers are exclusive (a block key lives in at most one tier of this pool); a block
 * served from a lower tier has exactly the bytes and chain identity it was swapped out with
 * (disk: verified by checksum, length and identity, else a miss); events are delivered after the
 * pool lock is released (never from inside it).
 * NOTE: the hot pool reports evictions through this view's eviction hook, so allocations made
 * through other views (other threads) of the same pool still drop idle cached blocks; give this
 * pool a reserve (`hotReserveBlocks`) and call `relieve()` to keep that rare.
 */
import type { BlockPool, PoolStats, PrefixMatch } from './block-pool.js';
import type { BlockTable } from './block-table.js';
import { chainBlocks, keyHex, type ChainBlock } from './block-key.js';
import { DiskTier } from './disk-tier.js';
import { KvArgumentError } from './errors.js';
import { HostTier, type SwappedBlock } from './host-tier.js';
import type { KvTarget, KvTicket } from './kv-channel.js';
import type { KvConnector } from './kv-connector.js';
import type { CachedBlockIdentity } from './prefix-index.js';

/** The tiers of a memory pool. */
export type KvTier = 'hot' | 'host' | 'disk';

/** What happened to cached blocks (named by their hex chain keys, see prefixKeys). */
export type KvPoolEvent =
  | { readonly type: 'insert'; readonly tier: 'hot'; readonly keys: readonly string[] }
  | { readonly type: 'swap'; readonly from: KvTier; readonly to: KvTier; readonly keys: readonly string[] }
  | { readonly type: 'evict'; readonly tier: KvTier; readonly keys: readonly string[] };

/** Options of the KvMemPool constructor. */
export interface KvMemPoolOptions {
  /** The hot tier (use an unowned view or the owner view that allocates for this pool). */
  readonly pool: BlockPool;
  /** Host tier capacity in blocks (0: none; blocks go straight to disk). */
  readonly hostBlocks: number;
  /** Disk tier: a private directory is made under `dir`; at most `maxBytes` of block files. */
  readonly disk?: { readonly dir: string; readonly maxBytes: number };
  /** relieve() keeps at least this many hot blocks free by swapping idle cached ones out (default 0). */
  readonly hotReserveBlocks?: number;
}

/** A number of blocks per tier. */
export interface KvTierCounts {
  readonly hot: number;
  readonly host: number;
  readonly disk: number;
}

/** A prefix match across tiers; `table` holds a reference on each block. */
export interface TieredMatch extends PrefixMatch {
  /** Matched blocks by the tier they were found in. */
  readonly blocks: { readonly hot: number; readonly host: number; readonly disk: number };
}

/** Per-tier accounting. */
export interface KvMemPoolStats {
  readonly hot: PoolStats;
  readonly host: { readonly blocks: number; readonly capacity: number; readonly bytes: number; readonly hits: number };
  readonly disk: { readonly blocks: number; readonly maxBytes: number; readonly bytes: number; readonly hits: number; readonly corrupt: number } | null;
  /** Blocks looked up past the hot prefix and found in no tier. */
  readonly lowerMisses: number;
  /** Blocks moved down (hot -> host, host -> disk) and up (host/disk -> hot). */
  readonly swappedOut: number;
  readonly swappedIn: number;
  /** Blocks dropped from this instance (disk or host overflow, corrupt files, delete). */
  readonly dropped: number;
}

/** Tiered memory pool for cached prefixes; see the file header. */
export class KvMemPool {
  readonly pool: BlockPool;
  readonly #host: HostTier;
  readonly #disk: DiskTier | null;
  readonly #reserve: number;
  readonly #spanFloats: number;
  readonly #listeners = new Set<(event: KvPoolEvent) => void>();
  #queued: KvPoolEvent[] = [];
  #dropping = false;
  #counts = { hostHits: 0, diskHits: 0, lowerMisses: 0, swappedOut: 0, swappedIn: 0, dropped: 0 };

  constructor(options: KvMemPoolOptions) {
    const { pool, hostBlocks, disk, hotReserveBlocks = 0 } = options;
    if (!Number.isInteger(hostBlocks) || hostBlocks < 0) throw new KvArgumentError(`KvMemPool: hostBlocks must be a non-negative integer, got ${String(hostBlocks)}`);
    if (!Number.isInteger(hotReserveBlocks) || hotReserveBlocks < 0) throw new KvArgumentError(`KvMemPool: hotReserveBlocks must be a non-negative integer, got ${String(hotReserveBlocks)}`);
    if (disk !== undefined && (typeof disk.dir !== 'string' || !(disk.maxBytes >= 0))) throw new KvArgumentError('KvMemPool: disk needs a dir string and maxBytes >= 0');
    this.pool = pool;
    this.#host = new HostTier(hostBlocks);
    this.#disk = disk === undefined ? null : new DiskTier(disk.dir, disk.maxBytes, (key) => this.#dropKeys('disk', [key]));
    this.#reserve = hotReserveBlocks;
    this.#spanFloats = pool.layout.spanFloats;
    pool.setEvictionHook((block, identity) => this.#evicted(block, identity));
  }

  /** Subscribes to pool events; returns the unsubscribe function. */
  subscribe(listener: (event: KvPoolEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Takes `n` hot blocks (one reference each), swapping idle cached ones down first; null if the pool cannot supply. */
  allocate(n: number): number[] | null {
    const free = this.pool.stats().free;
    if (free < n) this.pool.evictIdle(n - free);
    const ids = this.pool.allocate(n);
    this.relieve();
    return ids;
  }

  /** Drops one reference from each block. */
  free(blockIds: ArrayLike<number>): void {
    this.pool.release(blockIds);
  }

  /**
   * Indexes the table's full blocks as holding `tokens` (hot tier); returns how many were new.
   * NOTE: a recomputed block may still have a copy in host or disk (read past a damaged block, or
   * not matched at all); the hot copy wins and the lower one goes, so tiers stay exclusive and the
   * stale copy takes no room there. The insert event tells an index the key's tier is now hot.
   */
  insert(table: BlockTable, tokens: ArrayLike<number>): number {
    const added = this.pool.publish(table, tokens);
    const keys = chainBlocks(tokens, this.pool.geometry.blockSize).slice(0, table.blockIds.length).map((b) => b.hex);
    for (const k of keys) {
      this.#host.delete(k);
      this.#disk?.delete(k);
    }
    if (keys.length > 0) this.#emit({ type: 'insert', tier: 'hot', keys });
    return added;
  }

  /**
   * Longest cached prefix of `tokens` across all tiers, with a reference on each block; blocks
   * found in host or disk are brought up into the hot pool (and re-indexed there) first. Pass
   * `prompt.slice(0, -1)` when the last prompt token must be computed.
   */
  async match(tokens: ArrayLike<number>): Promise<TieredMatch> {
    const bs = this.pool.geometry.blockSize;
    const chain = chainBlocks(tokens, bs);
    const ids = this.pool.match(tokens).table.detach();
    const counts = { hot: ids.length, host: 0, disk: 0 };
    for (;;) {
      const run = await this.#lowerRun(chain, ids.length, tokens);
      if (run.length === 0) break;
      const fresh = this.allocate(run.length);
      if (fresh === null) {
        this.#putBack(run);
        break;
      }
      this.#load(fresh, run.map((r) => r.block));
      ids.push(...fresh);
      for (const tier of ['host', 'disk'] as const) {
        const keys = run.filter((r) => r.tier === tier).map((r) => r.block.key);
        counts[tier] += keys.length;
        if (keys.length > 0) this.#emit({ type: 'swap', from: tier, to: 'hot', keys });
      }
      // NOTE: later blocks of the prefix may still be hot (a chain's head goes down first).
      const more = this.pool.matchFrom(tokens, ids.length);
      ids.push(...more);
      counts.hot += more.length;
    }
    this.#counts.lowerMisses += chain.length - ids.length;
    this.#counts.hostHits += counts.host;
    this.#counts.diskHits += counts.disk;
    this.#counts.swappedIn += counts.host + counts.disk;
    const table = this.pool.adoptBlocks(ids);
    if (counts.host + counts.disk > 0) this.pool.publish(table, tokens);
    return { table, cachedTokens: ids.length * bs, blocks: counts };
  }

  /** The contiguous run of chain blocks from `from` held by host or disk (disk files read in parallel; a miss ends the run). */
  async #lowerRun(chain: ChainBlock[], from: number, tokens: ArrayLike<number>): Promise<{ tier: 'host' | 'disk'; block: SwappedBlock }[]> {
    const found: { tier: 'host' | 'disk'; block: Promise<SwappedBlock | null> }[] = [];
    for (let j = from; j < chain.length; j++) {
      const taken = this.#take(chain[j], tokens);
      if (taken === null) break;
      found.push(taken);
    }
    const settled = await Promise.all(found.map((f) => f.block));
    const run: { tier: 'host' | 'disk'; block: SwappedBlock }[] = [];
    for (let i = 0; i < settled.length; i++) {
      const block = settled[i];
      if (block !== null && run.length === i) run.push({ tier: found[i].tier, block });
      else if (block !== null) this.#putBack([{ tier: found[i].tier, block }]); // NOTE: past a miss: back down, unused
    }
    return run;
  }

  /** Copies swapped blocks' bytes into hot blocks `ids`. */
  #load(ids: readonly number[], blocks: readonly SwappedBlock[]): void {
    const layers = this.pool.geometry.layers;
    const span = this.#spanFloats;
    for (let i = 0; i < ids.length; i++) {
      for (let layer = 0; layer < layers; layer++) this.pool.layerSpan(ids[i], layer).set(blocks[i].data.subarray(layer * span, (layer + 1) * span));
    }
  }

  /** Brings the lower-tier blocks of `tokens`' cached prefix up into the hot pool (no references kept); returns how many. */
  async swapIn(tokens: ArrayLike<number>): Promise<number> {
    const m = await this.match(tokens);
    m.table.release();
    return m.blocks.host + m.blocks.disk;
  }

  /** Moves up to `n` idle cached hot blocks (least recently used first) down a tier; returns how many. */
  swapOut(n: number): number {
    return this.pool.evictIdle(n);
  }

  /** Swaps idle cached hot blocks out until `hotReserveBlocks` are free (or none is idle). */
  relieve(): number {
    const free = this.pool.stats().free;
    return free < this.#reserve ? this.pool.evictIdle(this.#reserve - free) : 0;
  }

  /**
   * Sends a sequence's complete KV (every layer written) through `connector` to `target` (another
   * instance's endpoint, or this pool for 'shared'); with `insert`, the receiving side registers
   * it as a cached prefix of those tokens in the same step (transfer-with-insert) and no reader is
   * needed. Resolves with the ticket once the receiving side holds every layer; null when a
   * 'shared' target has no handoff slot free. Rejects like KvWriter.done.
   */
  async transfer(connector: KvConnector, target: KvTarget, options: { table: BlockTable; tokenCount: number; insert?: readonly number[]; deadlineMs?: number }): Promise<KvTicket | null> {
    const writer = connector.openWriter(target, options);
    if (writer === null) return null;
    for (let layer = 0; layer < this.pool.geometry.layers; layer++) writer.publishLayer(layer);
    await writer.done;
    return writer.ticket;
  }

  /** Drops the cached blocks of `tokens` from every tier (referenced hot blocks go when released); returns how many. */
  delete(tokens: ArrayLike<number>): number {
    const keys = chainBlocks(tokens, this.pool.geometry.blockSize).map((b) => b.hex);
    const hot = this.pool.forgetPrefix(tokens);
    const host = keys.filter((k) => this.#host.delete(k));
    const disk = keys.filter((k) => this.#disk?.delete(k) === true);
    if (hot > 0) this.#emit({ type: 'evict', tier: 'hot', keys: keys.slice(0, hot) });
    if (host.length > 0) this.#emit({ type: 'evict', tier: 'host', keys: host });
    if (disk.length > 0) this.#emit({ type: 'evict', tier: 'disk', keys: disk });
    this.#counts.dropped += hot + host.length + disk.length;
    return hot + host.length + disk.length;
  }

  /**
   * Drops every unreferenced cached block of every tier: idle hot ones are freed now, host and
   * disk blocks dropped (their files removed; files still being written go once written, see
   * flush); each drop is an `evict` event. Referenced hot blocks stay with their holders. Returns
   * how many blocks left each tier.
   */
  clear(): KvTierCounts {
    this.#dropping = true;
    let hot = 0;
    try {
      hot = this.pool.evictAllCached();
    } finally {
      this.#dropping = false;
    }
    const host = this.#host.clear();
    const disk = this.#disk?.clear() ?? [];
    this.#dropKeys('host', host);
    this.#dropKeys('disk', disk);
    return { hot, host: host.length, disk: disk.length };
  }

  /** Waits for disk writes in flight (those of dropped blocks too: their files are gone once it resolves). */
  async flush(): Promise<void> {
    await this.#disk?.flush();
  }

  /** Per-tier accounting. */
  stats(): KvMemPoolStats {
    const c = this.#counts;
    const disk = this.#disk;
    return {
      hot: this.pool.stats(),
      host: { blocks: this.#host.size, capacity: this.#host.capacity, bytes: this.#host.bytes, hits: c.hostHits },
      disk: disk === null ? null : { blocks: disk.size, maxBytes: disk.maxBytes, bytes: disk.bytes, hits: c.diskHits, corrupt: disk.corrupt },
      lowerMisses: c.lowerMisses,
      swappedOut: c.swappedOut,
      swappedIn: c.swappedIn,
      dropped: c.dropped,
    };
  }

  /** Where the disk tier keeps a block's file (null without a disk tier). */
  diskPath(key: string): string | null {
    return this.#disk?.pathOf(key) ?? null;
  }

  /** Detaches from the hot pool, drops the lower tiers and removes the disk directory. */
  async close(): Promise<void> {
    this.pool.setEvictionHook(null);
    this.#host.clear();
    await this.#disk?.close();
  }

  /** Takes block `b` from host (now) or disk (a read); null when neither holds it. */
  #take(b: ChainBlock, tokens: ArrayLike<number>): { tier: 'host' | 'disk'; block: Promise<SwappedBlock | null> } | null {
    const bs = this.pool.geometry.blockSize;
    const expect = { parent: keyHex(b.parent), tokens: Array.prototype.slice.call(tokens, b.start, b.start + bs) as number[], floats: this.pool.geometry.layers * this.#spanFloats };
    const host = this.#host.take(b.hex);
    if (host !== null) {
      if (host.parent === expect.parent && host.tokens.every((t, i) => t === (expect.tokens[i] | 0))) return { tier: 'host', block: Promise.resolve(host) };
      // NOTE: another block under this key (a chain-key collision): dropped, and said so.
      this.#dropKeys('host', [b.hex]);
      return { tier: 'host', block: Promise.resolve(null) };
    }
    if (this.#disk?.has(b.hex) !== true) return null;
    const disk = this.#disk;
    return {
      tier: 'disk',
      block: disk.take(b.hex, expect).then((block) => {
        if (block === null) this.#dropKeys('disk', [b.hex]);
        return block;
      }),
    };
  }

  /** Eviction hook (under the pool lock): copy the block out and move it down, unless clearing. */
  #evicted(block: number, identity: CachedBlockIdentity): void {
    const key = keyHex(identity.key);
    if (this.#dropping) return this.#dropKeys('hot', [key]);
    const layers = this.pool.geometry.layers;
    const data = new Float32Array(layers * this.#spanFloats);
    for (let layer = 0; layer < layers; layer++) data.set(this.pool.layerSpan(block, layer), layer * this.#spanFloats);
    this.#counts.swappedOut++;
    this.#emit({ type: 'swap', from: 'hot', to: 'host', keys: [key] });
    this.#putHost([{ key, parent: keyHex(identity.parent), tokens: identity.tokens, data }]);
  }

  /**
   * Puts blocks taken from host or disk but not brought up back into the host tier.
   * NOTE: a block read from disk now lives in host: a swap event says so (before the put, whose
   * overflow may move it straight back down), so an index following the events keeps its tier.
   */
  #putBack(run: readonly { tier: 'host' | 'disk'; block: SwappedBlock }[]): void {
    const fromDisk = run.filter((r) => r.tier === 'disk').map((r) => r.block.key);
    if (fromDisk.length > 0) this.#emit({ type: 'swap', from: 'disk', to: 'host', keys: fromDisk });
    this.#putHost(run.map((r) => r.block));
  }

  /** Adds blocks to the host tier; its overflow moves to disk (or is dropped without one). */
  #putHost(blocks: SwappedBlock[]): void {
    for (const block of blocks) {
      this.#disk?.delete(block.key);
      const overflow = this.#host.put(block);
      if (overflow.length === 0) continue;
      if (this.#disk === null) {
        this.#dropKeys('host', overflow.map((b) => b.key));
        continue;
      }
      for (const out of overflow) {
        const dropped = this.#disk.put(out);
        this.#counts.swappedOut++;
        this.#emit({ type: 'swap', from: 'host', to: 'disk', keys: [out.key] });
        if (dropped.length > 0) this.#dropKeys('disk', dropped);
      }
    }
  }

  #dropKeys(tier: KvTier, keys: string[]): void {
    if (keys.length === 0) return;
    this.#counts.dropped += keys.length;
    this.#emit({ type: 'evict', tier, keys });
  }

  /** Queues an event; delivery happens in a microtask (never under the pool lock). */
  #emit(event: KvPoolEvent): void {
    if (this.#listeners.size === 0) return;
    if (this.#queued.length === 0) queueMicrotask(() => this.#deliver());
    this.#queued.push(event);
  }

  #deliver(): void {
    const events = this.#queued;
    this.#queued = [];
    for (const event of events) for (const listener of this.#listeners) listener(event);
  }
}
