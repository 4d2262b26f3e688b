/**
 * Every thread/process message of @baton/kv-cache, one discriminated union per channel: the
 * receiver's checksum worker (checksum-worker.ts), and the workers and child processes that the
 * tests and the benchmark start (src/testing/*). Not part of the public API.
 * NOTE: the model-backed fixtures (model-handoff-worker, model-decode-child) load @baton/model
 * dynamically; these messages only carry token ids, pool handles and handoff descriptors.
 */
import type { BlockPoolHandle, BlockPoolOptions } from './block-pool.js';
import type { PoolGeometry } from './pool-layout.js';
import type { HandoffDescriptor } from './handoff.js';
import type { KvTarget, KvTicket } from './kv-channel.js';

/** KvTransferReceiver -> checksum worker: CRC32 of these byte ranges of the pool's data buffer. */
export interface VerifyRequest {
  readonly type: 'verify';
  readonly id: number;
  /** Byte ranges of the pool's data SharedArrayBuffer (offsets[i], lengths[i]), in payload order. */
  readonly offsets: readonly number[];
  readonly lengths: readonly number[];
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
  /** The plain baseline: copy (or, with `discard`, only count) `expectBytes` bytes, then ack one byte. */
  | { readonly type: 'listen-plain'; readonly expectBytes: number; readonly discard?: boolean }
  /** Dial the parent's sender at `port` (the receiver reads payloads in place). */
  | { readonly type: 'dial-pool'; readonly geometry: PoolGeometry; readonly port: number }
  | { readonly type: 'exit' };

/** transfer-child -> parent. */
export type ChildReply =
  | { readonly type: 'listening'; readonly port: number }
  | { readonly type: 'dialed' }
  | { readonly type: 'received'; readonly sequenceId: number; readonly layerChecksums: readonly number[]; readonly used: number }
  | { readonly type: 'receive-failed'; readonly code: string; readonly message: string };

/** Test -> model-handoff-worker (a worker thread with its own tfjs backend and baton-tiny). */
export type ModelWorkerRequest =
  | {
      readonly type: 'prefill';
      readonly handle: BlockPoolHandle;
      readonly prompt: readonly number[];
      /** Int32[1]: layers the consumer has loaded; when set, the producer waits on it after each layer. */
      readonly lockstep: SharedArrayBuffer | null;
    }
  | {
      readonly type: 'decode';
      readonly handle: BlockPoolHandle;
      readonly descriptor: HandoffDescriptor;
      readonly maxTokens: number;
      /** Int32[1] bumped after each layer is loaded (see 'prefill'), or null. */
      readonly lockstep: SharedArrayBuffer | null;
    }
  | { readonly type: 'first-token'; readonly token: number };

/** model-handoff-worker / model-decode-child -> test. */
export type ModelWorkerReply =
  | { readonly type: 'model-ready' }
  | { readonly type: 'handoff-opened'; readonly descriptor: HandoffDescriptor; readonly cachedTokens: number }
  | { readonly type: 'prefilled'; readonly firstToken: number }
  | {
      readonly type: 'decoded';
      /** Generated ids, the first token included. */
      readonly tokens: readonly number[];
      /** handoff.layersReady when each layer was loaded into the model (before adoption). */
      readonly layersReadyAtLoad: readonly number[];
      /** Per-layer CRC32 of the prompt's KV as adopted (before decoding appended to it). */
      readonly layerChecksums: readonly number[];
    }
  | { readonly type: 'model-failed'; readonly code: string; readonly message: string };

/** Parent -> model-decode-child (child_process IPC). */
export type ModelChildRequest =
  | { readonly type: 'listen'; readonly geometry: PoolGeometry; readonly maxTokens: number }
  | { readonly type: 'first-token'; readonly sequenceId: number; readonly token: number };

/** model-decode-child -> parent: 'listening', then ModelWorkerReply per sequence. */
export type ModelChildReply = { readonly type: 'listening'; readonly port: number } | ModelWorkerReply;

/** Test -> owner-worker: take references under `owner`, then hold them until terminated. */
export interface OwnerWorkRequest {
  readonly type: 'owner-work';
  readonly handle: BlockPoolHandle;
  readonly owner: number;
  /** Prompt to match (prefix hit), then grow the table to its length plus `extraTokens`. */
  readonly prompt: readonly number[];
  readonly extraTokens: number;
  /** Standalone blocks to allocate besides the table. */
  readonly blocks: number;
  /** A handoff to accept and wait on (left pending by the test), or null. */
  readonly consume: HandoffDescriptor | null;
}

/** owner-worker -> test. */
export type OwnerWorkReply =
  | {
      readonly type: 'holding';
      /** References counted against the owner, as the worker saw them. */
      readonly references: number;
      /** A handoff the worker opened (never published) as producer. */
      readonly produced: HandoffDescriptor;
    }
  | { readonly type: 'owner-work-failed'; readonly message: string };

/** Parent -> KV channel peer (testing/kv-channel-peer.ts, as a worker thread or a forked child). */
export type ChannelPeerRequest =
  /** Thread placement: attach the parent's pool (the channel is 'shared'). */
  | { readonly type: 'attach'; readonly handle: BlockPoolHandle }
  /** Process placement: create an own pool and a KvEndpoint on loopback TCP (the channel is 'stream'). */
  | { readonly type: 'listen'; readonly geometry: BlockPoolOptions }
  /** Open the reader of `ticket`, wait for every layer (reporting each with `reportLayers`), adopt, release. */
  | { readonly type: 'read'; readonly ticket: KvTicket; readonly reportLayers: boolean; readonly timeoutMs: number }
  /** Report the pool's free count. */
  | { readonly type: 'stats' }
  | { readonly type: 'exit' };

/** KV channel peer -> parent. Times are `performance.timeOrigin + performance.now()` (ms). */
export type ChannelPeerReply =
  | { readonly type: 'ready'; readonly target: KvTarget }
  | { readonly type: 'layer'; readonly layer: number; readonly checksum: number }
  | { readonly type: 'held'; readonly at: number; readonly layerChecksums: readonly number[] }
  | { readonly type: 'stats'; readonly free: number }
  | { readonly type: 'failed'; readonly code: string; readonly message: string };
