/**
 * GpuForward: one model's forward pass in the GPU host thread: weights as tensors on the host
 * backend, the working KV in a GpuKvPool, the hot ops from ForwardOps (fused WGSL on WebGPU).
 * Each call uploads only the new tokens' embeddings and small int32 index tensors, appends the new
 * K/V rows in place, and reads back ONE tensor: the requested output (logits rows, or argmax ids
 * for greedy decode) followed by the new K/V rows of every layer (for the system-of-record pool).
 * With streamLayers, prefill instead reads each layer's K/V back as soon as it is computed.
 * Shapes: N rows (tokens), C = nEmbd, H heads, V vocab; qkv [N, 3C]; kv rows [N, 2C] (K then V).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GptConfig } from '../config.js';
import { tensorsFromFolded, disposeModelTensors, type FoldedWeights, type ModelTensors } from '../model-tensors.js';
import type { Activation } from '../config.js';
import { embedRows } from '../embedding.js';
import { activate } from '../layers.js';
import { FastForward, fastForwardFits } from './fast-forward.js';
import type { FastOutput, LayerSink } from './fast-readback.js';
import type { ForwardOps } from './forward-ops.js';
import { GpuKvPool } from './gpu-kv-pool.js';
import type { GpuDecodeItem, GpuOutput, GpuStepStats } from './gpu-protocol.js';

/** What one forward call returns. */
export interface ForwardResult {
  logits: Float32Array | null;
  ids: Int32Array | null;
  /** [nLayer, 2, N, C] (per layer the N K rows, then the N V rows), or null when streamed. */
  kv: Float32Array | null;
}

/** One prefill call (one sequence). */
export interface PrefillCall {
  slot: number;
  pos0: number;
  tokens: number[];
  logits: 'last' | 'all' | 'none';
  /** When set, receives each layer's K/V rows as soon as they are computed (see LayerSink). */
  onLayer: LayerSink | null;
}

/** Batches up to this many rows read back whole qkv rows (see forward). */
const WHOLE_ROWS = 64;

const TANH_GELUS: ReadonlySet<Activation> = new Set<Activation>(['gelu_new', 'gelu_pytorch_tanh', 'gelu_fast']);

interface Rows {
  /** (slot, position, token) per row. */
  slots: number[];
  positions: number[];
  tokens: number[];
  /** Page-table row of each query row. */
  tableRows: number[];
  /** Distinct slots, in table-row order. */
  tableSlots: number[];
}

/** The forward pass of one model on the host thread's backend. */
export class GpuForward {
  private readonly t: ModelTensors;
  private readonly pool: GpuKvPool;
  private readonly scale: number;
  /** The hand-built one-submission pipeline (WebGPU only), or null for the tfjs path. */
  private readonly fast: FastForward | null;

  /** `fast`: use the hand-built pipeline where the backend is webgpu and the model fits it. */
  constructor(private readonly config: GptConfig, weights: FoldedWeights, private readonly ops: ForwardOps, fast = true) {
    this.t = tensorsFromFolded(config, weights);
    this.pool = new GpuKvPool(config.nLayer, config.nEmbd, config.nPositions);
    this.scale = 1 / Math.sqrt(config.nEmbd / config.nHead);
    this.fast = fast && tf.getBackend() === 'webgpu' && fastForwardFits(config) ? new FastForward(config, weights, this.pool) : null;
  }

  /** Which pipeline runs prefill and decode. */
  get pipeline(): 'fast' | 'tfjs' {
    return this.fast === null ? 'tfjs' : 'fast';
  }

  /** Uploads existing K/V rows ([n, 2C]) of one layer of a slot at positions [start, start + n). */
  load(slot: number, layer: number, start: number, rows: Float32Array): void {
    const C = this.config.nEmbd;
    const n = rows.length / (2 * C);
    const dst = Array.from({ length: n }, (_, i) => this.pool.keyRow(slot, start + i));
    if (this.fast !== null) return this.fast.load(layer, dst, rows);
    tf.tidy(() => this.pool.append(this.ops, layer, tf.tensor2d(rows, [n, 2 * C]), 0, C, tf.tensor1d(dst, 'int32')));
  }

  /** Frees a slot's GPU pages. */
  free(slot: number): void {
    this.pool.free(slot);
  }

  async prefill(c: PrefillCall): Promise<ForwardResult> {
    const n = c.tokens.length;
    const rows: Rows = {
      slots: new Array<number>(n).fill(c.slot), positions: c.tokens.map((_, i) => c.pos0 + i), tokens: c.tokens,
      tableRows: new Array<number>(n).fill(0), tableSlots: [c.slot],
    };
    if (this.fast !== null) {
      const out: FastOutput = c.logits === 'all' ? 'logits' : c.logits;
      return this.runFast(rows, out, c.onLayer);
    }
    const out: GpuOutput = c.logits === 'none' ? 'none' : 'logits';
    return this.forward(rows, out, c.logits === 'last', c.onLayer);
  }

  async decode(items: readonly GpuDecodeItem[], output: GpuOutput): Promise<ForwardResult> {
    const rows: Rows = {
      slots: items.map((i) => i.slot), positions: items.map((i) => i.pos), tokens: items.map((i) => i.token),
      tableRows: items.map((_, i) => i), tableSlots: items.map((i) => i.slot),
    };
    if (this.fast !== null) return this.runFast(rows, output, null);
    return this.forward(rows, output, false, null);
  }

  /** The hand-built pipeline's call totals since the last take (zeros on the tfjs path). */
  takeStepStats(): GpuStepStats {
    return this.fast?.takeStats() ?? { calls: 0, dispatches: 0, submits: 0, encodeMs: 0, runMs: 0 };
  }

  dispose(): void {
    this.fast?.dispose();
    disposeModelTensors(this.t);
    this.pool.dispose();
  }

  private async forward(r: Rows, output: GpuOutput, lastOnly: boolean, onLayer: PrefillCall['onLayer']): Promise<ForwardResult> {
    const { nEmbd: C, layerNormEpsilon: eps, vocabSize: V, nHead } = this.config;
    const N = r.tokens.length;
    const dstRows = r.slots.map((s, i) => this.pool.keyRow(s, r.positions[i]));
    const kvParts: tf.Tensor2D[] = [];
    const keep: tf.Tensor[] = [];
    const x0 = tf.tensor2d(this.embed(r), [N, C]);
    const dst = tf.tensor1d(dstRows, 'int32');
    const table = this.pool.table(r.tableSlots);
    const pages = table.tensor;
    const infoHost = Int32Array.from(r.tableRows.flatMap((row, i) => [row, r.positions[i]]));
    const info = tf.tensor2d(infoHost, [N, 2], 'int32');
    let x: tf.Tensor2D = x0;
    for (let l = 0; l < this.t.blocks.length; l++) {
      const b = this.t.blocks[l];
      const next = tf.tidy(() => {
        const qkv = tf.fused.matMul({ a: this.ops.normalize(x, eps), b: b.attnW, bias: b.attnB }) as tf.Tensor2D; // [N, 3C]
        this.pool.append(this.ops, l, qkv, C, 2 * C, dst);
        const y = this.ops.attention({ qkv, pool: this.pool.layer(l), pages, info, pagesHost: table.host, infoHost, nHead, scale: this.scale });
        const x1 = tf.add(x, tf.fused.matMul({ a: y, b: b.projW, bias: b.projB })) as tf.Tensor2D;
        const h = tf.fused.matMul({ a: this.ops.normalize(x1, eps), b: b.fcW, bias: b.fcB }) as tf.Tensor2D;
        const act = TANH_GELUS.has(this.config.activation) ? this.ops.geluNew(h) : activate(h, this.config.activation);
        const x2 = tf.add(x1, tf.fused.matMul({ a: act, b: b.mlpW, bias: b.mlpB })) as tf.Tensor2D;
        // NOTE: small batches read back whole qkv rows (K/V picked out on the host): one dispatch
        // less per layer, which dominates decode; large prefills slice to read back a third less.
        return { x2, kv: N <= WHOLE_ROWS ? tf.clone(qkv) : (tf.slice(qkv, [0, C], [N, 2 * C]) as tf.Tensor2D) };
      });
      if (x !== x0) x.dispose();
      x = next.x2;
      if (onLayer !== null) {
        onLayer(l, 'kv', this.kvRows((await next.kv.data()) as Float32Array, N));
        next.kv.dispose();
      } else kvParts.push(next.kv);
    }
    keep.push(x0, dst, pages, info, x);
    const result = await this.readBack(x, kvParts, output, lastOnly, N, V);
    tf.dispose(keep);
    tf.dispose(kvParts);
    return result;
  }

  /** The hand-built pipeline; it sends each layer's K/V to `onLayer` as soon as it is read back. */
  private async runFast(r: Rows, output: FastOutput, onLayer: PrefillCall['onLayer']): Promise<ForwardResult> {
    const dst = r.slots.map((s, i) => this.pool.keyRow(s, r.positions[i]));
    const pages = this.pool.tableHost(r.tableSlots);
    return (this.fast as FastForward).run({ tokens: r.tokens, positions: r.positions, dst, tableRows: r.tableRows, pages }, output, { onLayer });
  }

  /** Head, output and one read-back of [output, kv...]. */
  private async readBack(x: tf.Tensor2D, kv: tf.Tensor2D[], output: GpuOutput, lastOnly: boolean, N: number, V: number): Promise<ForwardResult> {
    const { nEmbd: C, layerNormEpsilon: eps } = this.config;
    const packed = tf.tidy((): tf.Tensor => {
      const parts: tf.Tensor[] = [];
      if (output !== 'none') {
        const last = lastOnly ? tf.slice(x, [N - 1, 0], [1, C]) : x;
        const logits = tf.fused.matMul({ a: this.ops.normalize(last as tf.Tensor2D, eps), b: this.t.headW, bias: this.t.headB }) as tf.Tensor2D;
        parts.push(output === 'ids' ? tf.cast(this.ops.argmax(logits), 'float32') : tf.reshape(logits, [-1]));
      }
      for (const k of kv) parts.push(tf.reshape(k, [-1]));
      return parts.length === 0 ? tf.zeros([0]) : parts.length === 1 ? tf.clone(parts[0]) : tf.concat(parts);
    });
    const data = (await packed.data()) as Float32Array;
    packed.dispose();
    const outLen = output === 'none' ? 0 : output === 'ids' ? N : (lastOnly ? 1 : N) * V;
    const head = data.subarray(0, outLen);
    return {
      logits: output === 'logits' ? head.slice() : null,
      ids: output === 'ids' ? Int32Array.from(head) : null,
      kv: kv.length === 0 ? null : this.kvLayers(data.subarray(outLen), N, kv.length),
    };
  }

  /** K/V [2, n, C] from one layer's read-back rows, either K/V rows [n, 2C] or whole qkv rows [n, 3C]. */
  private kvRows(data: Float32Array, n: number): Float32Array {
    const C = this.config.nEmbd;
    const w = data.length / n;
    const kOff = w === 2 * C ? 0 : C;
    const out = new Float32Array(2 * n * C);
    for (let r = 0; r < n; r++) {
      out.set(data.subarray(r * w + kOff, r * w + kOff + C), r * C);
      out.set(data.subarray(r * w + kOff + C, r * w + kOff + 2 * C), (n + r) * C);
    }
    return out;
  }

  /** [layers, 2, n, C] from `layers` consecutive layers' read-back rows (see kvRows). */
  private kvLayers(data: Float32Array, n: number, layers: number): Float32Array {
    const per = data.length / layers;
    const out = new Float32Array(layers * 2 * n * this.config.nEmbd);
    for (let l = 0; l < layers; l++) out.set(this.kvRows(data.subarray(l * per, (l + 1) * per), n), l * 2 * n * this.config.nEmbd);
    return out;
  }

  /** Token + position embeddings [N * C]. */
  private embed(r: Rows): Float32Array {
    const out = new Float32Array(r.tokens.length * this.config.nEmbd);
    embedRows(this.t.wte, this.t.wpe, this.config.nEmbd, r.tokens, r.positions, out);
    return out;
  }
}
