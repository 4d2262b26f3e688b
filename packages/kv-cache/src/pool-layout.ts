/**
 * Geometry and memory layout of a block pool. Owns every offset into the two SharedArrayBuffers
 * (`data` for KV floats, `meta` for bookkeeping); nothing else computes raw offsets.
 *
 * ## KV data (`data`, Float32Array)
 * A block holds `blockSize` tokens of every layer's K and V. Layer-major: float offset of a row:
 *
 *     offset(block, layer, kind, token) =
 *       ((layer * totalBlocks + block) * 2 + kind) * blockSize * nEmbd + token * nEmbd
 *
 * with kind K = 0, V = 1 and nEmbd = heads * headDim (heads concatenated in a row). So
 * (a) one layer's K (or V) rows of consecutive tokens in a block are contiguous,
 * (b) a block's K and V of one layer form ONE contiguous span of `2 * blockSize * nEmbd` floats
 *     (a "layer span"), which the cross-process stream sends as-is, and
 * (c) the layer spans of consecutive block ids are adjacent, so a sequence whose blocks were
 *     allocated together is one (or a few) contiguous byte runs per layer (see spanRuns).
 * NOTE: layer-major rather than block-major for (c): the transfer stream then writes, copies and
 * checksums a few large runs per layer instead of one 8-32 KiB span per block.
 *
 * ## Metadata (`meta`, Int32Array), all words accessed with Atomics
 *
 *     [0, HEADER_INTS)                      header words (H_* below): lock, free list, counters
 *     [blockBase, + total * BLOCK_INTS)     per-block records (B_* below)
 *     [tokenBase, + total * blockSize)      token ids of each prefix-indexed block (verification)
 *     [bucketBase, + bucketCount)           prefix hash buckets: head block id of a chain or NONE
 *     [slotBase, + slots * SLOT_INTS)       handoff slots (S_* below)
 *     [holderBase, + holders * totalBlocks) per-holder reference counts (see holder-counts.ts):
 *                                           row h < maxOwners is owner h, row maxOwners + s is slot s
 *
 * A handoff slot is on the slot free list (H_SLOT_FREE_HEAD, S_FREE_NEXT) unless its state is
 * Pending or Complete; a descriptor is live while its generation equals S_GENERATION.
 *
 * Invariants (under the lock): a block is in exactly one of FREE (on the free list, ref 0),
 * ACTIVE (ref > 0) or IDLE (ref 0, prefix-indexed, on the LRU list); free + active + idle = total.
 */
import { KvArgumentError } from './errors.js';

/** Shape of a pool: how many blocks and how big each one is. */
export interface PoolGeometry {
  /** Tokens per block. */
  readonly blockSize: number;
  /** Transformer layers. */
  readonly layers: number;
  /** Attention heads per layer. */
  readonly heads: number;
  /** Floats per head. */
  readonly headDim: number;
  /** Blocks in the pool. */
  readonly totalBlocks: number;
  /** Concurrent handoffs the pool can track (bounded; `openHandoff` returns null beyond it). */
  readonly handoffSlots: number;
  /**
   * Owner ids (0 .. maxOwners - 1) whose references the pool counts so a dead owner's blocks can
   * be reclaimed; 0 disables owners. Absent means DEFAULT_MAX_OWNERS.
   */
  readonly maxOwners?: number;
}

/** Owners a pool tracks when its geometry does not say. */
export const DEFAULT_MAX_OWNERS = 32;

/** "No block / no slot" in linked lists and hash chains (internal to shared memory). */
export const NONE = -1;

/** Block kinds in the data layout. */
export const KIND_K = 0;
export const KIND_V = 1;

// Header words.
export const H_LOCK = 0;
export const H_FREE_HEAD = 1;
export const H_FREE_COUNT = 2;
export const H_ACTIVE_COUNT = 3;
export const H_IDLE_COUNT = 4;
export const H_INDEXED_COUNT = 5;
export const H_HITS = 6;
export const H_MISSES = 7;
export const H_EVICTIONS = 8;
export const H_LRU_HEAD = 9;
export const H_LRU_TAIL = 10;
export const H_SLOT_FREE_HEAD = 11;
export const H_SLOT_FREE_COUNT = 12;
export const HEADER_INTS = 16;

// Per-block record words.
export const B_REFS = 0;
export const B_STATE = 1;
/** Next block on the free list, or NONE. */
export const B_FREE_NEXT = 2;
export const B_LRU_PREV = 3;
export const B_LRU_NEXT = 4;
/** Whether the block is in the prefix index (INDEXED / NOT_INDEXED). */
export const B_INDEXED = 5;
export const B_HASH_HI = 6;
export const B_HASH_LO = 7;
export const B_PARENT_HI = 8;
export const B_PARENT_LO = 9;
/** Next block in the same hash bucket, or NONE. */
export const B_CHAIN_NEXT = 10;
export const BLOCK_INTS = 12;

/** Values of B_STATE. */
export enum BlockState {
  Free = 0,
  Active = 1,
  Idle = 2,
}

export const NOT_INDEXED = 0;
export const INDEXED = 1;

// Handoff slot words.
export const S_STATE = 0;
/** Layers published so far (the layer-progress counter consumers wait on). */
export const S_PROGRESS = 1;
/** Bumped each time the slot is recycled, so stale descriptors are detected. */
export const S_GENERATION = 2;
export const S_FREE_NEXT = 3;
/** Bumped on every publish, cancel and adoption; consumers Atomics.waitAsync on this word. */
export const S_SIGNAL = 4;
/** Whether the slot has a deadline (DeadlineKind) and its absolute time in ms (hi, lo words). */
export const S_DEADLINE_KIND = 5;
export const S_DEADLINE_HI = 6;
export const S_DEADLINE_LO = 7;
/** Owner id of the producer / of the consumer that accepted the handoff, or NONE. */
export const S_PRODUCER = 8;
export const S_CONSUMER = 9;
export const SLOT_INTS = 12;

/** Values of S_DEADLINE_KIND. */
export enum DeadlineKind {
  None = 0,
  At = 1,
}

/** Values of S_STATE. */
export enum SlotState {
  Free = 0,
  Pending = 1,
  Complete = 2,
  Cancelled = 3,
  Adopted = 4,
}

/** Derived sizes and region bases for one geometry. */
export interface PoolLayout {
  readonly geometry: PoolGeometry;
  readonly nEmbd: number;
  /** Floats in one (block, layer, kind) run of rows: blockSize * nEmbd. */
  readonly kindFloats: number;
  /** Floats in one block's layer span (K then V): 2 * kindFloats. */
  readonly spanFloats: number;
  /** Floats in one block. */
  readonly blockFloats: number;
  readonly blockBase: number;
  readonly tokenBase: number;
  readonly bucketBase: number;
  readonly bucketCount: number;
  readonly slotBase: number;
  /** Owners tracked (geometry.maxOwners or its default). */
  readonly maxOwners: number;
  /** Rows of per-holder counts: maxOwners owners, then one per handoff slot. */
  readonly holders: number;
  readonly holderBase: number;
  readonly metaInts: number;
}

function requirePositiveInt(name: string, value: unknown, max: number): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
    throw new KvArgumentError(`geometry.${name} must be an integer in [1, ${max}], got ${String(value)}`);
  }
}

/** Validates a geometry and computes its layout. Throws KvArgumentError naming the bad field. */
export function layoutOf(geometry: PoolGeometry): PoolLayout {
  requirePositiveInt('blockSize', geometry.blockSize, 1 << 16);
  requirePositiveInt('layers', geometry.layers, 1 << 12);
  requirePositiveInt('heads', geometry.heads, 1 << 12);
  requirePositiveInt('headDim', geometry.headDim, 1 << 16);
  requirePositiveInt('totalBlocks', geometry.totalBlocks, 1 << 24);
  requirePositiveInt('handoffSlots', geometry.handoffSlots, 1 << 16);
  const maxOwners = geometry.maxOwners ?? DEFAULT_MAX_OWNERS;
  if (!Number.isInteger(maxOwners) || maxOwners < 0 || maxOwners > 1 << 12) {
    throw new KvArgumentError(`geometry.maxOwners must be an integer in [0, ${1 << 12}], got ${String(geometry.maxOwners)}`);
  }
  const nEmbd = geometry.heads * geometry.headDim;
  const kindFloats = geometry.blockSize * nEmbd;
  const blockFloats = kindFloats * 2 * geometry.layers;
  if (blockFloats * geometry.totalBlocks > 2 ** 31) {
    throw new KvArgumentError(
      `geometry needs ${blockFloats * geometry.totalBlocks} floats of KV, more than one SharedArrayBuffer allows (2^31)`,
    );
  }
  let bucketCount = 1;
  while (bucketCount < geometry.totalBlocks * 2) bucketCount *= 2;
  const blockBase = HEADER_INTS;
  const tokenBase = blockBase + geometry.totalBlocks * BLOCK_INTS;
  const bucketBase = tokenBase + geometry.totalBlocks * geometry.blockSize;
  const slotBase = bucketBase + bucketCount;
  const holders = maxOwners + geometry.handoffSlots;
  const holderBase = slotBase + geometry.handoffSlots * SLOT_INTS;
  const metaInts = holderBase + holders * geometry.totalBlocks;
  // NOTE: the per-holder matrix dominates metadata for large pools; keep the SAB reasonable.
  if (metaInts > 2 ** 28) {
    throw new KvArgumentError(
      `geometry needs ${metaInts} metadata ints (${holders} owner and slot rows x ${geometry.totalBlocks} blocks), more than 2^28; lower maxOwners or handoffSlots`,
    );
  }
  return {
    geometry,
    nEmbd,
    kindFloats,
    spanFloats: 2 * kindFloats,
    blockFloats,
    blockBase,
    tokenBase,
    bucketBase,
    bucketCount,
    slotBase,
    maxOwners,
    holders,
    holderBase,
    metaInts,
  };
}

/** Float offset of token `token`'s row in (block, layer, kind). */
export function rowOffset(layout: PoolLayout, block: number, layer: number, kind: number, token: number): number {
  return ((layer * layout.geometry.totalBlocks + block) * 2 + kind) * layout.kindFloats + token * layout.nEmbd;
}

/** Float offset of a block's layer span (K rows then V rows of one layer). */
export function spanOffset(layout: PoolLayout, block: number, layer: number): number {
  return (layer * layout.geometry.totalBlocks + block) * layout.spanFloats;
}

/** Contiguous byte ranges of the data buffer, in order (parallel arrays). */
export interface ByteRuns {
  readonly offsets: readonly number[];
  readonly lengths: readonly number[];
}

/**
 * The layer spans of `blockIds` (in order) for one layer, merged into byte runs wherever
 * consecutive entries are consecutive block ids (adjacent in the layer-major layout).
 */
export function spanRuns(layout: PoolLayout, blockIds: ArrayLike<number>, layer: number): { offsets: number[]; lengths: number[] } {
  const spanBytes = layout.spanFloats * 4;
  const offsets: number[] = [];
  const lengths: number[] = [];
  for (let i = 0; i < blockIds.length; i++) {
    const at = spanOffset(layout, blockIds[i], layer) * 4;
    const last = offsets.length - 1;
    if (last >= 0 && offsets[last] + lengths[last] === at) lengths[last] += spanBytes;
    else {
      offsets.push(at);
      lengths.push(spanBytes);
    }
  }
  return { offsets, lengths };
}

/** Int index of a block's record word. */
export function blockWord(layout: PoolLayout, block: number, word: number): number {
  return layout.blockBase + block * BLOCK_INTS + word;
}

/** Int index of a handoff slot's word. */
export function slotWord(layout: PoolLayout, slot: number, word: number): number {
  return layout.slotBase + slot * SLOT_INTS + word;
}

/** Int index of holder `holder`'s count on `block` (holder: owner id, or maxOwners + slot). */
export function holderWord(layout: PoolLayout, holder: number, block: number): number {
  return layout.holderBase + holder * layout.geometry.totalBlocks + block;
}
