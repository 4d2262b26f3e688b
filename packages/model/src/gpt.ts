/**
 * Gpt: the GPT-2 forward pass on TensorFlow.js (nanoGPT style). Prefill runs a sequence's prompt
 * in chunks (each chunk attends to the KV of earlier chunks); decode runs one token for many
 * sequences in one step, with ONE set of dense matMuls for the batch and one batched attention over
 * the KvArena slots. Every K/V row computed is written to the sequence's KvBacking (the system of
 * record) and appended in place to the arena (never recopied per step).
 * Shapes: T tokens, C = nEmbd, H heads, hd = C / H, V vocab, S arena slots, cap arena capacity.
 * On the webgpu backend the forward pass runs in this thread's GPU host thread (gpu/gpu-runner.ts):
 * weights and working KV stay on the GPU, and only logits (or greedy ids) and new K/V rows return.
 * Invariants: a sequence's logits never depend on the other sequences of a batch (each attends
 * only to its own slot); no tensor outlives a call except weights and the arena.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GptConfig } from './config.js';
import { KvCapacityError, ModelArgumentError } from './errors.js';
import type { KvBacking } from './kv-backing.js';
import { KvArena } from './kv-arena.js';
import { activeGpuHost } from './backend.js';
import { GpuRunner } from './gpu/gpu-runner.js';
import { activate, dense, normalize } from './layers.js';
import { createModelTensors, disposeModelTensors, foldWeights, type BlockTensors, type ModelTensors } from './model-tensors.js';
import { ModelSequence, type SequenceHost } from './model-sequence.js';
import { argmax } from './sampling.js';
import type { GptTokenizer } from './tokenizer.js';
import type { GptWeights } from './weights.js';
import { WasmForward, type ForwardHost } from './wasm-forward.js';

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

/** A GPT-2 model on the active tfjs backend. */
export class Gpt implements SequenceHost, ForwardHost {
  /** Backend-side parameters (LayerNorm affine folded into the dense layers); unused on the GPU path. */
  private readonly t: ModelTensors;
  private readonly arena: KvArena;
  /** The GPU path (webgpu backend), or null. */
  private readonly gpu: GpuRunner | null;
  /** The wasm-kernel CPU path (wasm backend), or null. */
  private readonly wasm: WasmForward | null;
  private readonly headDim: number;
  /** 1 / sqrt(headDim), applied to queries. */
  private readonly scale: number;
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
    this.headDim = config.nEmbd / config.nHead;
    this.scale = 1 / Math.sqrt(this.headDim);
    const host = activeGpuHost();
    this.gpu = host === null ? null : new GpuRunner(host, config, foldWeights(config, weights));
    const useWasm = host === null && tf.getBackend() === 'wasm' && WasmForward.supports(config) && process.env['BATON_WASM_KERNELS'] !== '0';
    // NOTE: on the GPU path the weights and KV live in the host thread, on the wasm-kernel path in
    // the arena's memory; the tfjs tensors then stay empty.
    this.t = host === null && !useWasm ? createModelTensors(config, weights) : { blocks: [], headW: tf.zeros([1, 1]), headB: tf.zeros([1]), wte: new Float32Array(0), wpe: new Float32Array(0) };
    this.arena = new KvArena({
      nLayer: host === null ? config.nLayer : 0, nHead: config.nHead, headDim: this.headDim, maxPositions: host === null ? config.nPositions : 1,
      reserveBytes: useWasm ? WasmForward.reserveBytes(config) : 0,
    });
    this.wasm = useWasm ? new WasmForward(config, weights, this.arena, this) : null;
  }

  /**
   * Which forward pass runs: 'webgpu' (the GPU host thread), 'wasm-fma' / 'wasm-simd' (the
   * wasm-kernel CPU path, with or without relaxed-SIMD multiply-adds) or 'tfjs' (tfjs ops).
   */
  get forwardPath(): 'webgpu' | 'wasm-fma' | 'wasm-simd' | 'tfjs' {
    if (this.gpu !== null) return 'webgpu';
    if (this.wasm !== null) return this.wasm.fma ? 'wasm-fma' : 'wasm-simd';
    return 'tfjs';
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

  /** SequenceHost: copies backing rows [loadedUpTo, length) of `layer` into the arena. */
  loadLayer(seq: ModelSequence, layer: number): void {
    if (this.gpu !== null) return this.gpu.loadLayer(seq, layer);
    const from = seq.loadedUpTo[layer];
    const to = seq.length;
    if (from >= to) return;
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
      const logits = this.gpu !== null ? this.gpu.prefill(seq, piece, want, o.onLayerDone)
        : this.wasm !== null ? this.wasm.forward([{ seq, tokens: piece }], want, o.onLayerDone)
          : this.forwardChunk(seq, piece, o);
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
    return this.forwardDecode(batch);
  }

  /**
   * A greedy decode step: like decode, but returns each row's argmax id [B] (lowest id on ties).
   * On the GPU the argmax runs there and only the ids come back.
   */
  decodeGreedy(batch: readonly DecodeItem[]): Int32Array {
    if (!this.checkBatch(batch)) return new Int32Array(0);
    if (this.gpu !== null) return this.gpu.decode(batch, 'ids') as Int32Array;
    const V = this.config.vocabSize;
    const logits = this.forwardDecode(batch);
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
    disposeModelTensors(this.t);
    this.arena.dispose();
  }

  // ---------------------------------------------------------------------------------------------

  private forwardChunk(
    seq: ModelSequence,
    tokens: readonly number[],
    o: { allLogits: boolean; wantLogits: boolean; onLayerDone: ((layer: number) => void) | undefined },
  ): Float32Array | null {
    const { nEmbd: C, layerNormEpsilon: eps } = this.config;
    const T = tokens.length;
    const p0 = seq.length;
    const logits = tf.tidy((): tf.Tensor2D | undefined => {
      let x: tf.Tensor2D = tf.tensor2d(this.embed(tokens.map((t, i) => [t, p0 + i])), [T, C]);
      for (let l = 0; l < this.t.blocks.length; l++) {
        const b = this.t.blocks[l];
        this.loadLayer(seq, l);
        const qkv = dense(normalize(x, eps), b.attnW, b.attnB); // [T, 3C]
        const data = qkv.dataSync() as Float32Array;
        this.storeQkv(seq, l, p0, data, T);
        o.onLayerDone?.(l);
        const y = new Float32Array(T * C); // [T, C]: causal attention of the chunk's queries
        this.arena.attend({ layer: l, slot: seq.slot, qkv: data, rowStride: 3 * C, rows: T, pos0: p0, scale: this.scale, out: y, outOffset: 0 });
        x = tf.add(x, dense(tf.tensor2d(y, [T, C]), b.projW, b.projB));
        x = tf.add(x, this.mlp(x, b));
      }
      if (!o.wantLogits) return undefined;
      return this.lmHead(o.allLogits ? x : tf.slice(x, [T - 1, 0], [1, C]));
    });
    seq.len = p0 + T;
    if (logits === undefined) return null;
    const data = logits.dataSync() as Float32Array;
    logits.dispose();
    return data;
  }

  private forwardDecode(batch: readonly DecodeItem[]): Float32Array {
    const wasm = this.wasm;
    if (wasm !== null) {
      const V = this.config.vocabSize;
      const out = new Float32Array(batch.length * V);
      // NOTE: batches longer than the kernels' scratch run in groups; rows are independent.
      for (let i = 0; i < batch.length; i += wasm.maxRows) {
        const group = batch.slice(i, i + wasm.maxRows).map(({ seq, token }) => ({ seq, tokens: [token] }));
        out.set(wasm.forward(group, 'all') as Float32Array, i * V);
      }
      return out;
    }
    const { nEmbd: C, layerNormEpsilon: eps } = this.config;
    const B = batch.length;
    const logits = tf.tidy(() => {
      let x: tf.Tensor2D = tf.tensor2d(this.embed(batch.map((it) => [it.token, it.seq.length])), [B, C]);
      for (let l = 0; l < this.t.blocks.length; l++) {
        const b = this.t.blocks[l];
        const qkv = dense(normalize(x, eps), b.attnW, b.attnB); // [B, 3C]
        const data = qkv.dataSync() as Float32Array;
        const y = new Float32Array(B * C); // [B, C]
        for (const [i, { seq }] of batch.entries()) {
          // NOTE: one kernel call per sequence over its own pages and length: no padding to the
          // longest sequence, and a row's result cannot depend on the rest of the batch.
          const row = data.subarray(i * 3 * C, (i + 1) * 3 * C);
          this.loadLayer(seq, l);
          this.storeQkv(seq, l, seq.length, row, 1);
          this.arena.attend({ layer: l, slot: seq.slot, qkv: row, rowStride: 3 * C, rows: 1, pos0: seq.length, scale: this.scale, out: y, outOffset: i * C });
        }
        x = tf.add(x, dense(tf.tensor2d(y, [B, C]), b.projW, b.projB));
        x = tf.add(x, this.mlp(x, b));
      }
      return this.lmHead(x);
    });
    for (const { seq } of batch) seq.len += 1;
    const data = logits.dataSync() as Float32Array;
    logits.dispose();
    return data;
  }

  private mlp(x: tf.Tensor2D, b: BlockTensors): tf.Tensor2D {
    const h = normalize(x, this.config.layerNormEpsilon);
    return dense(activate(dense(h, b.fcW, b.fcB), this.config.activation), b.mlpW, b.mlpB);
  }

  private lmHead(x: tf.Tensor2D): tf.Tensor2D {
    return dense(normalize(x, this.config.layerNormEpsilon), this.t.headW, this.t.headB); // [T, V]
  }

  /** Token + position embeddings for (token, position) pairs: [n * C]. */
  private embed(pairs: Array<[number, number]> | number[][]): Float32Array {
    const C = this.config.nEmbd;
    const out = new Float32Array(pairs.length * C);
    const { wte, wpe } = this.t;
    pairs.forEach(([tok, pos], i) => {
      for (let c = 0; c < C; c++) out[i * C + c] = wte[tok * C + c] + wpe[pos * C + c];
    });
    return out;
  }

  /** Splits K and V out of qkv rows ([n, 3C]) and stores them (storeKv). */
  private storeQkv(seq: ModelSequence, layer: number, start: number, qkv: Float32Array, n: number): void {
    const C = this.config.nEmbd;
    const [k, v] = this.kvRows(n * C);
    for (let t = 0; t < n; t++) {
      k.set(qkv.subarray(t * 3 * C + C, t * 3 * C + 2 * C), t * C);
      v.set(qkv.subarray(t * 3 * C + 2 * C, t * 3 * C + 3 * C), t * C);
    }
    this.storeKv(seq, layer, start, k, v);
  }

  /** @internal ForwardHost: writes n K and V rows ([n, C]) at `start` to the backing and the arena. */
  storeKv(seq: ModelSequence, layer: number, start: number, k: Float32Array, v: Float32Array): void {
    const n = k.length / this.config.nEmbd;
    seq.backing.write(layer, 'k', start, k);
    seq.backing.write(layer, 'v', start, v);
    this.arena.writeRows(layer, seq.slot, start, k, v);
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
