/**
 * GptConfig: the GPT-2 hyper-parameters in camelCase, and conversion from/to a Hugging Face
 * `config.json`. Invariant: a GptConfig that left parseHfConfig is internally consistent
 * (nEmbd divisible by nHead, positive sizes, a supported activation).
 */
import { ConfigError } from './errors.js';

/** Activation functions understood by the MLP (Hugging Face `activation_function` names). */
export const ACTIVATIONS = [
  'gelu_new', 'gelu_pytorch_tanh', 'gelu_fast', 'gelu', 'relu', 'silu', 'swish', 'quick_gelu', 'tanh', 'sigmoid', 'linear',
] as const;
/** One of {@link ACTIVATIONS}. */
export type Activation = (typeof ACTIVATIONS)[number];

/** GPT-2 hyper-parameters. */
export interface GptConfig {
  vocabSize: number;
  nPositions: number;
  nEmbd: number;
  nLayer: number;
  nHead: number;
  /** MLP width (Hugging Face `n_inner`, default 4 x nEmbd). */
  nInner: number;
  activation: Activation;
  layerNormEpsilon: number;
  /** Standard deviation of the seeded random initialisation. */
  initializerRange: number;
  bosTokenId: number | null;
  eosTokenId: number | null;
}

type Json = Record<string, unknown>;

function int(json: Json, field: string, fallback?: number): number {
  const v = json[field] ?? fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
    throw new ConfigError(field, `expected a positive integer, got ${JSON.stringify(json[field])}`);
  }
  return v;
}

function num(json: Json, field: string, fallback: number): number {
  const v = json[field] ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
    throw new ConfigError(field, `expected a non-negative number, got ${JSON.stringify(json[field])}`);
  }
  return v;
}

function optionalId(json: Json, field: string): number | null {
  const v = json[field];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
    throw new ConfigError(field, `expected a token id or null, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** Parses a Hugging Face GPT-2 `config.json` object (GPT-2 names, with `vocab_size` etc.). */
export function parseHfConfig(json: unknown): GptConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new ConfigError('(root)', 'expected a JSON object');
  }
  const j = json as Json;
  const nEmbd = int(j, 'n_embd');
  const nHead = int(j, 'n_head');
  if (nEmbd % nHead !== 0) throw new ConfigError('n_head', `n_embd ${nEmbd} is not divisible by n_head ${nHead}`);
  const inner = j['n_inner'] === null || j['n_inner'] === undefined ? 4 * nEmbd : int(j, 'n_inner');
  const act = j['activation_function'] ?? 'gelu_new';
  if (typeof act !== 'string' || !(ACTIVATIONS as readonly string[]).includes(act)) {
    throw new ConfigError('activation_function', `unsupported ${JSON.stringify(act)}; supported: ${ACTIVATIONS.join(', ')}`);
  }
  return {
    vocabSize: int(j, 'vocab_size'),
    nPositions: int(j, 'n_positions', typeof j['n_ctx'] === 'number' ? j['n_ctx'] : undefined),
    nEmbd,
    nLayer: int(j, 'n_layer'),
    nHead,
    nInner: inner,
    activation: act as Activation,
    layerNormEpsilon: num(j, 'layer_norm_epsilon', 1e-5),
    initializerRange: num(j, 'initializer_range', 0.02),
    bosTokenId: optionalId(j, 'bos_token_id'),
    eosTokenId: optionalId(j, 'eos_token_id'),
  };
}

/** Validates a GptConfig built in code (same rules as parseHfConfig). */
export function validateConfig(config: GptConfig): GptConfig {
  return parseHfConfig(toHfConfig(config));
}

/** Converts a GptConfig to a Hugging Face GPT-2 `config.json` object. */
export function toHfConfig(config: GptConfig): Record<string, unknown> {
  return {
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    vocab_size: config.vocabSize,
    n_positions: config.nPositions,
    n_embd: config.nEmbd,
    n_layer: config.nLayer,
    n_head: config.nHead,
    n_inner: config.nInner === 4 * config.nEmbd ? null : config.nInner,
    activation_function: config.activation,
    layer_norm_epsilon: config.layerNormEpsilon,
    initializer_range: config.initializerRange,
    bos_token_id: config.bosTokenId,
    eos_token_id: config.eosTokenId,
    tie_word_embeddings: true,
  };
}
