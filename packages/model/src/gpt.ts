/**
 * Gpt: a GPT-2 model serving sequences. Prefill runs a sequence's prompt in chunks (each chunk
 * attends to the KV of earlier chunks); decode runs one token for many sequences in one step.
 * Every K/V row computed is written to the sequence's KvBacking (the system of record).
 * The forward pass itself is one of:
 *  - ReferenceForward (reference-forward.ts): the definition, on tfjs ops (cpu, tensorflow, and
 *    wasm for shapes the kernels do not take);
 *  - WasmForward (wasm-forward.ts): the same computation in the model's own WebAssembly kernels,
 *    in the KvArena's memory (the default on the wasm backend);
 *  - GpuRunner (gpu/gpu-runner.ts): the webgpu backend, in this thread's GPU host thread; weights
 *    and working KV stay on the GPU, only logits (or greedy ids) and new K/V rows return.
 * Invariants: a sequence's logits never depend on the other sequences of a batch; no tensor
 * outlives a call except the reference pass's parameters.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GptConfig } from './config.js';
import { KvCapacityError, ModelArgumentError } from './errors.js';
import type { ForwardHost, ForwardPass } from './forward-pass.js';
import type { KvBacking } from './kv-backing.js';
import { KvArena } from './kv-arena.js';
import { activeGpuHost } from './backend.js';
import { GpuRunner } from './gpu/gpu-runner.js';
import { foldWeights } from './model-tensors.js';
import { ModelSequence, type SequenceHost } from './model-sequence.js';
import { ReferenceForward } from './reference-forward.js';
import { argmax } from './sampling.js';
import type { GptTokenizer } from './tokenizer.js';
import { WasmForward } from './wasm-forward.js';
import { relaxedSimdSupported } from './wasm/simd-features.js';
import type { GptWeights } from './weights.js';

/** Options of Gpt.prefill. */
export interface PrefillOptions {
  /** Tokens per chunk (default 256). */
  chunkSize?: number;
  /** Called when a layer's K/V rows for ALL prefilled tokens are in the backing. */
  onLayerDone?: (layer: number) => void;
  /** 'last' (default): logits of the last position [V]; 'all': [T * V]. */
  logits?: 'last' | 'all';
}

/** One sequence's token in a decode step. */
export interface DecodeItem {
  seq: ModelSequence;
  token: number;
}

/** One sequence's tokens in a mixed step (a prefill chunk or a single decode token). */
export interface StepSegment {
  seq: ModelSequence;
  tokens: readonly number[];
}

const DEFAULT_CHUNK = 256;

/**
 * Threads the wasm-kernel pass runs a prefill's GEMMs on: `BATON_CPU_THREADS` (default 1).
 * NOTE: opt-in, because each serving actor already has its own thread: extra GEMM threads pay only
 * where cores are free; decode-sized GEMMs always stay on the calling thread.
 */
function cpuThreads(): number {
  const raw = process.env['BATON_CPU_THREADS'];
  if (raw === undefined || raw === '') return 1;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new ModelArgumentError('BATON_CPU_THREADS', `"${raw}" is not a thread count in [1, 64]`);
  return n;
}

/** A GPT-2 model on the active tfjs backend. */
export class Gpt implements SequenceHost, ForwardHost {
  /** The GPU path (webgpu backend), or null. */
  private readonly gpu: GpuRunner | null;
  /** The CPU forward pass (null on the GPU path). */
  private readonly cpu: ForwardPass | null;
  /** The wasm kernels' KV cache and memory (empty unless the wasm-kernel pass runs). */
  private readonly arena: KvArena;
  private disposed = false;
  private staging: [Float32Array, Float32Array] = [new Float32Array(0), new Float32Array(0)];

  /** @internal use loadModel. */
  constructor(
    /** Hyper-parameters. */
    readonly config: GptConfig,
    /** Text <-> ids for this model. */
    readonly tokenizer: GptTokenizer,
    /** Parameters (kept for saveCheckpoint). */
    readonly weights: GptWeights,
  ) {
    const host = activeGpuHost();
    this.gpu = host === null ? null : new GpuRunner(host, config, foldWeights(config, weights));
    const useWasm = host === null && tf.getBackend() === 'wasm' && WasmForward.supports(config) && process.env['BATON_WASM_KERNELS'] !== '0';
    const threads = cpuThreads();
    this.arena = new KvArena({
      nLayer: useWasm ? config.nLayer : 0, nHead: config.nHead, headDim: config.nEmbd / config.nHead, maxPositions: useWasm ? config.nPositions : 1,
      reserveBytes: useWasm ? WasmForward.reserveBytes(config, threads) : 0, shared: useWasm && threads > 1, fma: useWasm && relaxedSimdSupported(),
      threads: useWasm ? threads : 1,
    });
    this.cpu = host !== null ? null : useWasm ? new WasmForward(config, weights, this.arena, this, threads) : new ReferenceForward(config, weights, this);
  }

  /**
   * Which forward pass runs: 'webgpu' (the GPU host thread), 'wasm-fma' / 'wasm-simd' (the
   * wasm-kernel CPU path, with or without relaxed-SIMD multiply-adds) or 'tfjs' (tfjs ops).
   */
  get forwardPath(): 'webgpu' | 'wasm-fma' | 'wasm-simd' | 'tfjs' {
    if (this.cpu instanceof WasmForward) return this.cpu.fma ? 'wasm-fma' : 'wasm-simd';
    return this.cpu === null ? 'webgpu' : 'tfjs';
  }

  /**
   * Bytes of the wasm kernels' WebAssembly memory (weights, scratch and the attached sequences'
   * KV pages). NOTE: it never shrinks; released pages are reused, so it tracks the most positions
   * ever attached at once.
   */
  get wasmMemoryBytes(): number {
    return this.arena.wasmMemory.buffer.byteLength;
  }

  /** Number of layers (SequenceHost). */
  get nLayer(): number {
    return this.config.nLayer;
  }

  /**
   * Attaches a sequence whose KV lives in `backing`. `length` > 0 means positions [0, length) are
   * already in the backing (prefix-cache hit or handoff); they are loaded per layer on demand.
   */
  attach(backing: KvBacking, opts: { length?: number } = {}): ModelSequence {
    this.assertLive();
    const length = opts.length ?? 0;
    if (!Number.isInteger(length) || length < 0 || length > this.config.nPositions) {
      throw new ModelArgumentError('length', `${length} is not a position count in [0, ${this.config.nPositions}]`);
    }
    if (length > backing.capacity) throw new KvCapacityError(length, backing.capacity);
    return new ModelSequence(this, backing, this.gpu?.allocSlot() ?? this.arena.allocSlot(), length);
  }

  /**
   * SequenceHost / ForwardHost: makes backing rows [loadedUpTo, length) of `layer` available to
   * attention: uploaded to the GPU, copied into the arena, or (reference pass, which reads the
   * backing itself) nothing to do.
   */
  loadLayer(seq: ModelSequence, layer: number): void {
    if (this.gpu !== null) return this.gpu.loadLayer(seq, layer);
    const from = seq.loadedUpTo[layer];
    const to = seq.length;
    if (from >= to) return;
    if (this.cpu?.usesArena !== true) {
      seq.loadedUpTo[layer] = to;
      return;
    }
    const C = this.config.nEmbd;
    const [k, v] = this.kvRows((to - from) * C);
    seq.backing.read(layer, 'k', from, to, k);
    seq.backing.read(layer, 'v', from, to, v);
    this.arena.writeRows(layer, seq.slot, from, k, v);
    seq.loadedUpTo[layer] = to;
  }

  /** SequenceHost: frees an arena slot. */
  releaseSlot(slot: number): void {
    if (this.disposed) return;
    if (this.gpu !== null) this.gpu.freeSlot(slot);
    else this.arena.freeSlot(slot);
  }

  /**
   * Appends `tokens` at seq.length in chunks, writing their KV to the backing. Returns the logits
   * of the last position ([V]) or of every position ([T * V], with logits: 'all').
   */
  prefill(seq: ModelSequence, tokens: readonly number[], opts: PrefillOptions = {}): Float32Array {
    this.assertLive();
    seq.assertLive('seq');
    this.checkTokens(tokens, 'tokens');
    if (tokens.length === 0) throw new ModelArgumentError('tokens', 'prefill needs at least one token');
    const chunk = opts.chunkSize ?? DEFAULT_CHUNK;
    if (!Number.isInteger(chunk) || chunk < 1) throw new ModelArgumentError('chunkSize', `${chunk} is not a positive integer`);
    this.checkRoom(seq, tokens.length);
    const all = opts.logits === 'all';
    const V = this.config.vocabSize;
    const out = new Float32Array(all ? tokens.length * V : V);
    for (let start = 0; start < tokens.length; start += chunk) {
      const piece = tokens.slice(start, start + chunk);
      const final = start + chunk >= tokens.length;
      const o = { allLogits: all, wantLogits: all || final, onLayerDone: final ? opts.onLayerDone : undefined };
      const want = o.wantLogits ? (all ? 'all' : 'last') : 'none';
      const logits = this.cpu === null ? (this.gpu as GpuRunner).prefill(seq, piece, want, o.onLayerDone) : this.cpu.forward([{ seq, tokens: piece }], want, o.onLayerDone);
      if (logits !== null) out.set(logits, all ? start * V : 0);
    }
    return out;
  }

  /**
   * One decode step for many sequences (distinct, of any lengths): appends each token's K/V and
   * returns logits [B * V], row i for batch[i].
   */
  decode(batch: readonly DecodeItem[]): Float32Array {
    if (!this.checkBatch(batch)) return new Float32Array(0);
    if (this.gpu !== null) return this.gpu.decode(batch, 'logits') as Float32Array;
    return this.cpuDecode(batch);
  }

  /**
   * A greedy decode step: like decode, but returns each row's argmax id [B] (lowest id on ties).
   * On the GPU the argmax runs there and only the ids come back.
   */
  decodeGreedy(batch: readonly DecodeItem[]): Int32Array {
    if (!this.checkBatch(batch)) return new Int32Array(0);
    if (this.gpu !== null) return this.gpu.decode(batch, 'ids') as Int32Array;
    const V = this.config.vocabSize;
    const logits = this.cpuDecode(batch);
    return Int32Array.from(batch, (_, i) => argmax(logits.subarray(i * V, (i + 1) * V)));
  }

  /** Validates a decode batch; false when it is empty. */
  private checkBatch(batch: readonly DecodeItem[]): boolean {
    this.assertLive();
    if (batch.length === 0) return false;
    const seen = new Set<ModelSequence>();
    for (const [i, item] of batch.entries()) {
      item.seq.assertLive(`batch[${i}].seq`);
      if (seen.has(item.seq)) throw new ModelArgumentError(`batch[${i}].seq`, 'sequence appears twice in one decode step');
      seen.add(item.seq);
      this.checkTokens([item.token], `batch[${i}].token`);
      this.checkRoom(item.seq, 1);
    }
    return true;
  }

  /**
   * Mixed step (chunked-prefill serving): single-token segments are decoded together in one batch,
   * longer segments are prefilled. Returns each segment's last-position logits [segments * V].
   */
  step(segments: readonly StepSegment[]): Float32Array {
    const V = this.config.vocabSize;
    const out = new Float32Array(segments.length * V);
    const decodeIdx: number[] = [];
    for (const [i, s] of segments.entries()) {
      if (s.tokens.length === 1) decodeIdx.push(i);
      else out.set(this.prefill(s.seq, s.tokens, { chunkSize: Math.max(1, s.tokens.length) }), i * V);
    }
    const logits = this.decode(decodeIdx.map((i) => ({ seq: segments[i].seq, token: segments[i].tokens[0] })));
    decodeIdx.forEach((segIdx, j) => out.set(logits.subarray(j * V, (j + 1) * V), segIdx * V));
    return out;
  }

  /** Frees weights and the backend-side KV cache. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.gpu?.dispose();
    this.cpu?.dispose();
    this.arena.dispose();
  }

  // ---------------------------------------------------------------------------------------------

  /** One decode step on the CPU pass; batches longer than a call holds run in groups (rows are independent). */
  private cpuDecode(batch: readonly DecodeItem[]): Float32Array {
    const cpu = this.cpu as ForwardPass;
    const V = this.config.vocabSize;
    const out = new Float32Array(batch.length * V);
    for (let i = 0; i < batch.length; i += Math.min(batch.length, cpu.maxRows)) {
      const group = batch.slice(i, i + cpu.maxRows).map(({ seq, token }) => ({ seq, tokens: [token] }));
      out.set(cpu.forward(group, 'all') as Float32Array, i * V);
    }
    return out;
  }

  /** @internal ForwardHost: writes n K and V rows ([n, C]) at `start` to the backing and the arena. */
  storeKv(seq: ModelSequence, layer: number, start: number, k: Float32Array, v: Float32Array): void {
    const n = k.length / this.config.nEmbd;
    seq.backing.write(layer, 'k', start, k);
    seq.backing.write(layer, 'v', start, v);
    if (this.cpu?.usesArena === true) this.arena.writeRows(layer, seq.slot, start, k, v);
    seq.loadedUpTo[layer] = start + n;
  }

  /**
   * K and V staging rows of `size` floats. NOTE: reused across calls (a handoff of a long prompt
   * would otherwise allocate megabytes per layer); safe because KvBacking.write and
   * KvArena.writeRows copy, and each caller is done with the rows before the next call.
   */
  private kvRows(size: number): [Float32Array, Float32Array] {
    if (this.staging[0].length < size) this.staging = [new Float32Array(size), new Float32Array(size)];
    return [this.staging[0].subarray(0, size), this.staging[1].subarray(0, size)];
  }

  private checkTokens(tokens: readonly number[], argument: string): void {
    const V = this.config.vocabSize;
    for (const t of tokens) {
      if (!Number.isInteger(t) || t < 0 || t >= V) throw new ModelArgumentError(argument, `token id ${t} is outside [0, ${V})`);
    }
  }

  private checkRoom(seq: ModelSequence, n: number): void {
    const need = seq.length + n;
    if (need > this.config.nPositions) {
      throw new ModelArgumentError('tokens', `sequence would reach ${need} positions, beyond n_positions ${this.config.nPositions}`);
    }
    if (need > seq.backing.capacity) throw new KvCapacityError(need, seq.backing.capacity);
  }

  private assertLive(): void {
    if (this.disposed) throw new ModelArgumentError('model', 'model was disposed');
  }
}
