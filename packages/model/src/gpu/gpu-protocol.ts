/**
 * The one message protocol between a model thread (GpuClient) and its GPU host thread
 * (gpu-host-worker.ts). Requests are answered in order; `load` and `free` have no reply. A
 * request with a reply gets zero or more `layer` messages, then exactly one `result` or
 * `error`. A prefill's layers come as `layer` messages when asked (`streamLayers`) and always on
 * the hand-built pipeline (then the result's kv is null). K/V may come as windows of the host's
 * shared reply area, valid only until the next request: store them at once. Every reply is followed by an increment of the shared signal word (see gpu-client.ts).
 * KV in messages: `load` sends rows of 2 * nEmbd floats (K then V, heads concatenated); replies
 * send per layer [2, N, nEmbd]: the N K rows, then the N V rows (so they go to a KvBacking as is),
 * or a layer's K rows and V rows in two `layer` messages (KvPart).
 */
import type { GptConfig } from '../config.js';
import type { FoldedWeights } from '../model-tensors.js';

/** Which tfjs backend the host thread runs: 'webgpu' normally, 'cpu' to test the plumbing anywhere. */
export type GpuHostBackend = 'webgpu' | 'cpu';

/** workerData of a GPU host thread. */
export interface GpuHostData {
  backend: GpuHostBackend;
  /** Int32Array(1) over this SharedArrayBuffer: incremented after every reply. */
  signal: SharedArrayBuffer;
}

/** One decode row: a sequence's slot, its next token and that token's position. */
export interface GpuDecodeItem {
  slot: number;
  token: number;
  pos: number;
}

/** What a forward pass returns besides KV: logits rows, argmax ids, or nothing. */
export type GpuOutput = 'logits' | 'ids' | 'none';

/** Requests from the model thread. */
export type GpuRequest =
  | { type: 'hello' }
  | { type: 'addModel'; model: number; config: GptConfig; weights: FoldedWeights }
  /**
   * Answered once the model's GPU memory is released and the queue is idle; when it was the last
   * model, the host's device is also destroyed (re-created by the next request that needs it).
   */
  | { type: 'dropModel'; model: number }
  | { type: 'load'; model: number; slot: number; layer: number; start: number; rows: Float32Array }
  | { type: 'free'; model: number; slot: number }
  | {
      type: 'prefill'; model: number; slot: number; pos0: number; tokens: number[];
      /** 'last' or 'all' positions' logits, or none. */
      logits: 'last' | 'all' | 'none';
      /** Send each layer's KV as soon as it is computed (layer-wise handoff overlap). */
      streamLayers: boolean;
    }
  | { type: 'decode'; model: number; items: GpuDecodeItem[]; output: GpuOutput }
  | { type: 'checkKernels' }
  | { type: 'profile'; options: GpuProfileOptions }
  /** Keeps the GPU saturated for `ms` (clock warm-up before a measurement). */
  | { type: 'spin'; ms: number }
  /** Answers the host's forward-call totals since the last `stepStats` (GpuStepStats) and restarts them. */
  | { type: 'stepStats' }
  /**
   * Drops every model, waits for the queue, destroys the device and answers; the thread then only
   * waits to be terminated (GpuClient.close).
   */
  | { type: 'shutdown' };

/** One kernel's parity check against the generic tfjs ops. */
export interface KernelCheck {
  name: string;
  maxAbsDiff: number;
  ok: boolean;
}

/** What the GPU profile runs (a bench model with seeded random weights). */
export interface GpuProfileOptions {
  nLayer: number;
  nEmbd: number;
  nHead: number;
  /** Prompt length of the profiled prefill. */
  prefill: number;
  /** Batch and context of the profiled decode step. */
  decodeBatch: number;
  decodeCtx: number;
  /** Repetitions per measurement (medians are reported). */
  reps: number;
  /** Also time every candidate matmul tiling of the profiled shapes. */
  sweep: boolean;
}

/**
 * Totals of a host thread's forward calls (prefill and decode, every model) on the hand-built
 * pipeline since they were last read: what one step costs the host besides the GPU's own time.
 */
export interface GpuStepStats {
  /** Forward calls. */
  calls: number;
  /** Compute dispatches encoded. */
  dispatches: number;
  /** Command buffers submitted. */
  submits: number;
  /** Host ms from a call's start to its last submit (info and page-table writes, encoding, submits). */
  encodeMs: number;
  /** Host ms of the whole calls (encode, GPU, read-back into the reply area). */
  runMs: number;
}

/** One figure of the GPU profile. */
export interface GpuProfileRow {
  section: string;
  what: string;
  ms: number;
  note: string;
}

/**
 * Which rows a `layer` reply carries: the layer's K rows then its V rows [2, N, C] ('kv'), or only
 * its K rows or V rows [N, C] (the last layer of a hand-built prefill comes as 'k' then 'v', so
 * that the model thread stores the K rows while the host copies the V rows).
 */
export type KvPart = 'kv' | 'k' | 'v';

/** A window of the host thread's shared reply area (reply-area.ts), in floats. */
export interface KvWindow {
  offset: number;
  length: number;
}

/** K/V rows on the wire: an array of their own, or a window of the reply area. */
export type WireKv = Float32Array | KvWindow;

/** Replies from the host thread. `area`: the reply area, on the first reply with a window of a new one. */
export type GpuReply =
  | { type: 'layer'; layer: number; part: KvPart; kv: WireKv; area: SharedArrayBuffer | null }
  | {
      type: 'result';
      /** Logits rows [N * V] (or null). */
      logits: Float32Array | null;
      /** Greedy ids [N] (or null). */
      ids: Int32Array | null;
      /** [nLayer, 2, N, C] unless streamed per layer (then null). */
      kv: WireKv | null;
      area: SharedArrayBuffer | null;
      /** Free text (adapter, kernel checks). */
      detail: string;
      checks: KernelCheck[];
      /** GPU profile figures (`profile` requests). */
      profile: GpuProfileRow[];
      /** Forward-call totals (`stepStats` requests), else null. */
      stepStats: GpuStepStats | null;
    }
  | { type: 'error'; code: string; message: string };
