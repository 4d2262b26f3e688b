/**
 * Builds an ONNX GPT-2 graph (opset 20, standard ops only) from Baton's checkpoint weights, with
 * explicit KV inputs and outputs, in the layout Hugging Face's ONNX exports use:
 *   inputs  input_ids, position_ids int64 [B, T]; mask float [T, P + T] (additive: 0 or -1e9);
 *           past_key_{l}, past_value_{l} float [B, H, P, hd]
 *   outputs logits [B, T, V]; per layer either present_key_{l}/present_value_{l} [B, H, P + T, hd]
 *           (variant 'full') or only the new rows new_key_{l}/new_value_{l} [B, H, T, hd] ('new-rows')
 * Invariant: the weights are the checkpoint's (Conv1D [in, out]); the LM head is tied to wte
 * unless the checkpoint has lm_head.weight.
 */
import type { GptConfig, GptWeights } from '@baton/model';
import { DataType, encodeModel, type Attr, type Node, type Tensor, type ValueInfo } from './onnx-proto.js';

/** Which K/V the graph outputs. */
export type KvOutputs = 'full' | 'new-rows';

/** The graph's K/V output names of layer l. */
export function kvOutputNames(variant: KvOutputs, l: number): [string, string] {
  return variant === 'full' ? [`present_key_${l}`, `present_value_${l}`] : [`new_key_${l}`, `new_value_${l}`];
}

/** Serialised ONNX model of `weights` for `config`. */
export function buildGpt2Onnx(config: GptConfig, weights: GptWeights, variant: KvOutputs): Uint8Array {
  const { nEmbd: C, nHead: H, nLayer: L, vocabSize: V, layerNormEpsilon: eps } = config;
  const hd = C / H;
  const nodes: Node[] = [];
  const inits: Tensor[] = [];
  const w = (name: string): string => {
    const t = weights.get(name);
    if (t === undefined) throw new Error(`weights have no ${name}`);
    inits.push({ name, dims: t.shape, data: t.data });
    return name;
  };
  const int64 = (name: string, values: number[]): string => {
    inits.push({ name, dims: [values.length], data: BigInt64Array.from(values.map(BigInt)) });
    return name;
  };
  const scalar = (name: string, x: number): string => {
    inits.push({ name, dims: [], data: new Float32Array([x]) });
    return name;
  };
  let tmp = 0;
  const op = (type: string, inputs: string[], attrs?: Record<string, Attr>, nOut = 1): string[] => {
    const outputs = Array.from({ length: nOut }, () => `t${tmp++}`);
    nodes.push({ op: type, inputs, outputs, attrs });
    return outputs;
  };
  const one = (type: string, inputs: string[], attrs?: Record<string, Attr>): string => op(type, inputs, attrs)[0];
  const named = (type: string, inputs: string[], output: string, attrs?: Record<string, Attr>): string => {
    nodes.push({ op: type, inputs, outputs: [output], attrs });
    return output;
  };

  const headsShape = int64('shape_heads', [0, 0, H, hd]); // [B, T, C] -> [B, T, H, hd]
  const mergedShape = int64('shape_merged', [0, 0, C]); // [B, T, H, hd] -> [B, T, C]
  const scale = scalar('attn_scale', 1 / Math.sqrt(hd));
  const layerNorm = (x: string, prefix: string): string =>
    one('LayerNormalization', [x, w(`${prefix}.weight`), w(`${prefix}.bias`)], { axis: { i: -1 }, epsilon: { f: eps } });
  const linear = (x: string, prefix: string): string => one('Add', [one('MatMul', [x, w(`${prefix}.weight`)]), w(`${prefix}.bias`)]);
  const toHeads = (x: string): string => one('Transpose', [one('Reshape', [x, headsShape])], { perm: { ints: [0, 2, 1, 3] } }); // [B, H, T, hd]

  // Embeddings: [B, T, C]
  let x = one('Add', [one('Gather', [w('wte.weight'), 'input_ids']), one('Gather', [w('wpe.weight'), 'position_ids'])]);
  const outputs: ValueInfo[] = [{ name: 'logits', type: DataType.FLOAT, shape: ['B', 'T', V] }];
  const inputs: ValueInfo[] = [
    { name: 'input_ids', type: DataType.INT64, shape: ['B', 'T'] },
    { name: 'position_ids', type: DataType.INT64, shape: ['B', 'T'] },
    { name: 'mask', type: DataType.FLOAT, shape: ['T', 'PT'] },
  ];
  for (let l = 0; l < L; l++) {
    const p = `h.${l}`;
    inputs.push({ name: `past_key_${l}`, type: DataType.FLOAT, shape: ['B', H, 'P', hd] }, { name: `past_value_${l}`, type: DataType.FLOAT, shape: ['B', H, 'P', hd] });
    const [q, k, v] = op('Split', [linear(layerNorm(x, `${p}.ln_1`), `${p}.attn.c_attn`)], { axis: { i: 2 }, num_outputs: { i: 3 } }, 3);
    const [kName, vName] = kvOutputNames(variant, l);
    const full = variant === 'full';
    const kNew = full ? toHeads(k) : named('Transpose', [one('Reshape', [k, headsShape])], kName, { perm: { ints: [0, 2, 1, 3] } });
    const vNew = full ? toHeads(v) : named('Transpose', [one('Reshape', [v, headsShape])], vName, { perm: { ints: [0, 2, 1, 3] } });
    const kAll = full ? named('Concat', [`past_key_${l}`, kNew], kName, { axis: { i: 2 } }) : one('Concat', [`past_key_${l}`, kNew], { axis: { i: 2 } }); // [B, H, P+T, hd]
    const vAll = full ? named('Concat', [`past_value_${l}`, vNew], vName, { axis: { i: 2 } }) : one('Concat', [`past_value_${l}`, vNew], { axis: { i: 2 } });
    const kvShape = full ? ['B', H, 'PT', hd] : ['B', H, 'T', hd];
    outputs.push({ name: kName, type: DataType.FLOAT, shape: kvShape }, { name: vName, type: DataType.FLOAT, shape: kvShape });
    const scores = one('Add', [one('Mul', [one('MatMul', [toHeads(q), one('Transpose', [kAll], { perm: { ints: [0, 1, 3, 2] } })]), scale]), 'mask']); // [B, H, T, P+T]
    const attn = one('MatMul', [one('Softmax', [scores], { axis: { i: -1 } }), vAll]); // [B, H, T, hd]
    const merged = one('Reshape', [one('Transpose', [attn], { perm: { ints: [0, 2, 1, 3] } }), mergedShape]); // [B, T, C]
    x = one('Add', [x, linear(merged, `${p}.attn.c_proj`)]);
    const mlp = linear(one('Gelu', [linear(layerNorm(x, `${p}.ln_2`), `${p}.mlp.c_fc`)], { approximate: { s: 'tanh' } }), `${p}.mlp.c_proj`);
    x = one('Add', [x, mlp]);
  }
  // Tied head: logits = ln_f(x) · wteᵀ, with wteᵀ [C, V] stored transposed as exports do.
  const head = weights.get('lm_head.weight') ?? weights.get('wte.weight');
  if (head === undefined) throw new Error('weights have no wte.weight');
  const headT = new Float32Array(C * V);
  for (let v = 0; v < V; v++) for (let c = 0; c < C; c++) headT[c * V + v] = head.data[v * C + c];
  inits.push({ name: 'lm_head_t', dims: [C, V], data: headT });
  named('MatMul', [layerNorm(x, 'ln_f'), 'lm_head_t'], 'logits');
  return encodeModel({ opset: 20, nodes, initializers: inits, inputs, outputs });
}
