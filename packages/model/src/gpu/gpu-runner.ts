/**
 * GpuRunner: the model thread's side of a Gpt whose forward pass runs in its GPU host thread.
 * It keeps the KvBacking (the system of record) in step with the GPU-resident KV: rows already in
 * a backing (handoff, prefix hit) are uploaded once per layer when loaded; every row the GPU
 * computes comes back with the call's single read-back and is written to the backing.
 * Invariants: slot ids are unique per runner; seq.loadedUpTo[l] is the number of positions of
 * layer l that the GPU pool holds.
 */
import type { GptConfig } from '../config.js';
import type { FoldedWeights } from '../model-tensors.js';
import type { ModelSequence } from '../model-sequence.js';
import type { GpuClient, HostLayer } from './gpu-client.js';
import type { GpuOutput } from './gpu-protocol.js';

let nextModelId = 1;

/** One decode row as the runner sees it. */
export interface RunnerItem {
  seq: ModelSequence;
  token: number;
}

/** A Gpt's forward passes through a GPU host thread. */
export class GpuRunner {
  private readonly id = nextModelId++;
  private readonly freeSlots: number[] = [];
  private slots = 0;
  private staging = [new Float32Array(0), new Float32Array(0)];

  constructor(private readonly client: GpuClient, private readonly config: GptConfig, weights: FoldedWeights) {
    client.call({ type: 'addModel', model: this.id, config, weights });
  }

  allocSlot(): number {
    return this.freeSlots.pop() ?? this.slots++;
  }

  freeSlot(slot: number): void {
    this.client.post({ type: 'free', model: this.id, slot });
    this.freeSlots.push(slot);
  }

  /** Uploads backing rows [loadedUpTo, length) of `layer` (one message, no wait). */
  loadLayer(seq: ModelSequence, layer: number): void {
    const from = seq.loadedUpTo[layer];
    const to = seq.length;
    if (from >= to) return;
    const C = this.config.nEmbd;
    const n = to - from;
    const [k, v] = this.stage(n * C);
    seq.backing.read(layer, 'k', from, to, k);
    seq.backing.read(layer, 'v', from, to, v);
    const rows = new Float32Array(n * 2 * C);
    for (let t = 0; t < n; t++) {
      rows.set(k.subarray(t * C, (t + 1) * C), t * 2 * C);
      rows.set(v.subarray(t * C, (t + 1) * C), t * 2 * C + C);
    }
    this.client.post({ type: 'load', model: this.id, slot: seq.slot, layer, start: from, rows }, [rows.buffer]);
    seq.loadedUpTo[layer] = to;
  }

  /** Prefills `tokens` at seq.length; returns logits ('last' [V], 'all' [T * V]) or null. */
  prefill(seq: ModelSequence, tokens: readonly number[], logits: 'last' | 'all' | 'none', onLayerDone: ((layer: number) => void) | undefined): Float32Array | null {
    for (let l = 0; l < this.config.nLayer; l++) this.loadLayer(seq, l);
    const p0 = seq.length;
    const streamLayers = onLayerDone !== undefined;
    const onLayer = (m: HostLayer): void => {
      if (m.part !== 'kv') {
        seq.backing.write(m.layer, m.part, p0, m.kv);
        if (m.part === 'v') onLayerDone?.(m.layer);
        return;
      }
      this.storeRows(seq, m.layer, p0, m.kv, { k: 0, v: tokens.length * this.config.nEmbd, n: tokens.length });
      onLayerDone?.(m.layer);
    };
    const r = this.client.call({ type: 'prefill', model: this.id, slot: seq.slot, pos0: p0, tokens: [...tokens], logits, streamLayers }, onLayer);
    if (r.kv !== null) this.storeAll(seq, p0, r.kv, tokens.length);
    for (let l = 0; l < this.config.nLayer; l++) seq.loadedUpTo[l] = p0 + tokens.length;
    seq.len = p0 + tokens.length;
    return r.logits;
  }

  /** One decode step; returns logits [B * V] or greedy ids [B]. */
  decode(batch: readonly RunnerItem[], output: Exclude<GpuOutput, 'none'>): Float32Array | Int32Array {
    for (const { seq } of batch) for (let l = 0; l < this.config.nLayer; l++) this.loadLayer(seq, l);
    const items = batch.map(({ seq, token }) => ({ slot: seq.slot, token, pos: seq.length }));
    const r = this.client.call({ type: 'decode', model: this.id, items, output });
    const kv = r.kv as Float32Array;
    const C = this.config.nEmbd;
    const B = batch.length;
    batch.forEach(({ seq }, i) => {
      for (let l = 0; l < this.config.nLayer; l++) {
        this.storeRows(seq, l, seq.length, kv, { k: (2 * l * B + i) * C, v: ((2 * l + 1) * B + i) * C, n: 1 });
        seq.loadedUpTo[l] = seq.length + 1;
      }
      seq.len += 1;
    });
    return (output === 'ids' ? r.ids : r.logits) as Float32Array | Int32Array;
  }

  /**
   * Drops the host thread's copy of this model and waits until the host has released its GPU
   * memory with no GPU work in flight (a thread may be terminated right after). No-op once the
   * host was closed (closeBackend: the model went with it).
   */
  dispose(): void {
    if (this.client.isClosed) return;
    this.client.call({ type: 'dropModel', model: this.id });
  }

  /** Stores a reply's K/V ([nLayer, 2, n, C]). */
  private storeAll(seq: ModelSequence, p0: number, kv: Float32Array, n: number): void {
    const nC = n * this.config.nEmbd;
    for (let l = 0; l < this.config.nLayer; l++) this.storeRows(seq, l, p0, kv, { k: 2 * l * nC, v: (2 * l + 1) * nC, n });
  }

  /** Writes n K rows from kv[at.k] and n V rows from kv[at.v] to the backing at positions [start, start + n). */
  private storeRows(seq: ModelSequence, layer: number, start: number, kv: Float32Array, at: { k: number; v: number; n: number }): void {
    const len = at.n * this.config.nEmbd;
    seq.backing.write(layer, 'k', start, kv.subarray(at.k, at.k + len));
    seq.backing.write(layer, 'v', start, kv.subarray(at.v, at.v + len));
  }

  private stage(size: number): [Float32Array, Float32Array] {
    if (this.staging[0].length < size) this.staging = [new Float32Array(size), new Float32Array(size)];
    return [this.staging[0].subarray(0, size), this.staging[1].subarray(0, size)];
  }
}
