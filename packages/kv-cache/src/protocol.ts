/**
 * Every thread/process message of @baton/kv-cache, one discriminated union per channel: the
 * receiver's checksum worker (checksum-worker.ts), and the workers and child processes that the
 * tests and the benchmark start (src/testing/*). Not part of the public API.
 */
import type { BlockPoolHandle } from './block-pool.js';
import type { PoolGeometry } from './pool-layout.js';
import type { HandoffDescriptor } from './handoff.js';

/** KvTransferReceiver -> checksum worker: CRC32 of these byte ranges of the pool's data buffer. */
export interface VerifyRequest {
  readonly type: 'verify';
  readonly id: number;
  /** Byte offsets into the pool's data SharedArrayBuffer, each `spanBytes` long, in payload order. */
  readonly offsets: readonly number[];
  readonly spanBytes: number;
}

/** Checksum worker -> KvTransferReceiver. */
export type VerifyReply = { readonly type: 'verified'; readonly id: number; readonly checksum: number };

/** Test -> pool-stress-worker. */
export interface StressRequest {
  readonly type: 'stress';
  readonly handle: BlockPoolHandle;
  /** Int32 per block: 0, or 1 + index of the worker that exclusively allocated it. */
  readonly owners: SharedArrayBuffer;
  readonly workerIndex: number;
  readonly seed: number;
  readonly iterations: number;
  /** Prompts the workers share, so prefix blocks are matched and shared across threads. */
  readonly prompts: readonly (readonly number[])[];
}

/** pool-stress-worker -> test. */
export type StressReply =
  | { readonly type: 'stress-done'; readonly allocations: number; readonly nulls: number; readonly prefixHits: number; readonly violations: readonly string[] };

/** Test/bench -> handoff-consumer-worker. */
export interface ConsumeRequest {
  readonly type: 'consume';
  readonly handle: BlockPoolHandle;
  readonly descriptor: HandoffDescriptor;
  readonly timeoutMs: number;
  /** Read and checksum every layer (test) or only wait and adopt (bench). */
  readonly verify: boolean;
}

/** handoff-consumer-worker -> test/bench. */
export type ConsumeReply =
  | { readonly type: 'layer'; readonly layer: number; readonly checksum: number; readonly layersReadyAtRead: number }
  | { readonly type: 'adopted'; readonly blockCount: number; readonly blockIds: readonly number[] | null }
  | { readonly type: 'released' }
  | { readonly type: 'consume-failed'; readonly code: string; readonly message: string };

/** Parent -> transfer-child (child_process IPC). */
export type ChildRequest =
  | { readonly type: 'listen-pool'; readonly geometry: PoolGeometry; readonly checksums?: 'worker' | 'inline' }
  | { readonly type: 'listen-plain'; readonly expectBytes: number }
  | { readonly type: 'exit' };

/** transfer-child -> parent. */
export type ChildReply =
  | { readonly type: 'listening'; readonly port: number }
  | { readonly type: 'received'; readonly sequenceId: number; readonly layerChecksums: readonly number[]; readonly used: number }
  | { readonly type: 'receive-failed'; readonly code: string; readonly message: string };
