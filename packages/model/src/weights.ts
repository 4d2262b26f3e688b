/**
 * GptWeights: the model's parameters as float32 arrays under Hugging Face GPT-2 names (Conv1D
 * layout, weight [in, out]), with validation against a GptConfig and seeded random initialisation.
 * Invariant: a GptWeights returned here holds exactly the tensors `expectedShapes(config)` lists,
 * each of that shape (plus an optional untied `lm_head.weight`).
 */
import type { GptConfig } from './config.js';
import { WeightsError } from './errors.js';
import type { NamedTensor } from './safetensors.js';
import { createRng, normal } from './rng.js';

/** Parameters keyed by Hugging Face name without the `transformer.` prefix. */
export type GptWeights = Map<string, NamedTensor>;

/** Untied LM head name (kept outside `transformer.` in Hugging Face checkpoints). */
export const LM_HEAD = 'lm_head.weight';

/** Non-parameter buffers some GPT-2 checkpoints carry; ignored on load. */
const IGNORED = /^h\.\d+\.attn\.(bias|masked_bias)$/;

/** Every parameter name and its shape for `config`, in checkpoint order. */
export function expectedShapes(config: GptConfig): Map<string, number[]> {
  const { nEmbd: c, nInner: inner } = config;
  const m = new Map<string, number[]>([['wte.weight', [config.vocabSize, c]], ['wpe.weight', [config.nPositions, c]]]);
  for (let i = 0; i < config.nLayer; i++) {
    const p = `h.${i}.`;
    m.set(`${p}ln_1.weight`, [c]).set(`${p}ln_1.bias`, [c]);
    m.set(`${p}attn.c_attn.weight`, [c, 3 * c]).set(`${p}attn.c_attn.bias`, [3 * c]);
    m.set(`${p}attn.c_proj.weight`, [c, c]).set(`${p}attn.c_proj.bias`, [c]);
    m.set(`${p}ln_2.weight`, [c]).set(`${p}ln_2.bias`, [c]);
    m.set(`${p}mlp.c_fc.weight`, [c, inner]).set(`${p}mlp.c_fc.bias`, [inner]);
    m.set(`${p}mlp.c_proj.weight`, [inner, c]).set(`${p}mlp.c_proj.bias`, [c]);
  }
  return m.set('ln_f.weight', [c]).set('ln_f.bias', [c]);
}

/**
 * Maps checkpoint tensors (with or without the `transformer.` prefix) to GptWeights and checks
 * names, shapes and values. Throws WeightsError naming the missing, extra, mis-shaped or
 * non-finite (NaN, ±Infinity) tensor.
 */
export function weightsFromCheckpoint(config: GptConfig, tensors: Map<string, NamedTensor>): GptWeights {
  const expected = expectedShapes(config);
  const out: GptWeights = new Map();
  for (const [rawName, t] of tensors) {
    const name = rawName.startsWith('transformer.') ? rawName.slice('transformer.'.length) : rawName;
    if (IGNORED.test(name)) continue;
    const shape = name === LM_HEAD ? [config.vocabSize, config.nEmbd] : expected.get(name);
    if (shape === undefined) throw new WeightsError(rawName, 'unexpected tensor for this config');
    if (out.has(name)) throw new WeightsError(rawName, 'appears twice (with and without the "transformer." prefix)');
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new WeightsError(rawName, `shape ${JSON.stringify(t.shape)} does not match the expected ${JSON.stringify(shape)}`);
    }
    checkFinite(rawName, t.data);
    out.set(name, t);
  }
  for (const name of expected.keys()) {
    if (!out.has(name)) throw new WeightsError(`transformer.${name}`, 'missing from the checkpoint');
  }
  return out;
}

/**
 * NOTE: a NaN or infinite weight does not fail any op; it silently turns every logit into NaN (and
 * greedy decoding into token 0), so a corrupt checkpoint must be refused at load.
 */
function checkFinite(tensor: string, data: Float32Array): void {
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) throw new WeightsError(tensor, `holds a non-finite value (${data[i]}) at flat index ${i}: the checkpoint is corrupt`);
  }
}

/** Seeded random weights as GPT-2 initialises them (normal(0, initializerRange), zero biases, unit LayerNorm). */
export function randomWeights(config: GptConfig, seed: number): GptWeights {
  const rng = createRng(seed);
  const out: GptWeights = new Map();
  const projStd = config.initializerRange / Math.sqrt(2 * config.nLayer);
  for (const [name, shape] of expectedShapes(config)) {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    if (/ln_\w+\.weight$/.test(name)) data.fill(1);
    else if (name.endsWith('.weight')) {
      const std = name.endsWith('c_proj.weight') ? projStd : config.initializerRange;
      for (let i = 0; i < data.length; i++) data[i] = normal(rng) * std;
    }
    out.set(name, { shape, data });
  }
  return out;
}
