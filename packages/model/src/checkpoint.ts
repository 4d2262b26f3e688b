/**
 * Model loading and saving: a Hugging Face checkpoint directory (config.json + model.safetensors
 * [+ tokenizer files]) or a built-in name (seeded random weights generated at load, no file).
 * Loading needs an initialised backend (initBackend) because weights become tensors.
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseHfConfig, toHfConfig, validateConfig, type GptConfig } from './config.js';
import { ConfigError, ModelNotFoundError } from './errors.js';
import { Gpt } from './gpt.js';
import { parseSafetensors, serializeSafetensors, type SafetensorsDtype } from './safetensors.js';
import { ByteTokenizer, loadTokenizerFromDir, type GptTokenizer } from './tokenizer.js';
import { randomWeights, weightsFromCheckpoint, LM_HEAD, type GptWeights } from './weights.js';
import { BENCH_MODELS } from './bench-models.js';

/**
 * The built-in models: `baton-austen` (trained by `baton train` on Jane Austen's novels, shipped
 * in the repository's models/ directory; the default) and `baton-tiny` (the speed benchmarks'
 * model: 4 layers, 256 wide, 8 heads, byte vocabulary, seeded random weights generated at load).
 */
type Builtin = { kind: 'random'; config: GptConfig; seed: number } | { kind: 'dir'; dir: string };

const BUILTINS: Record<string, Builtin> = {
  'baton-austen': { kind: 'dir', dir: fileURLToPath(new URL('../../../models/baton-austen/', import.meta.url)) },
  'baton-tiny': {
    kind: 'random',
    config: {
      vocabSize: 256, nPositions: 1024, nEmbd: 256, nLayer: 4, nHead: 8, nInner: 1024, activation: 'gelu_new',
      layerNormEpsilon: 1e-5, initializerRange: 0.02, bosTokenId: null, eosTokenId: null,
    },
    seed: 1234,
  },
  ...BENCH_MODELS,
};

/** The default model of loadModel, describeModel and the command line: the trained `baton-austen`. */
export const DEFAULT_MODEL = 'baton-austen';

/** Names accepted by loadModel besides checkpoint directories. */
export const BUILTIN_MODELS: readonly string[] = Object.keys(BUILTINS);

/** The byte-level tokenizer of a model without tokenizer files (its end-of-text id and vocabulary). */
function byteTokenizer(config: GptConfig): ByteTokenizer {
  return new ByteTokenizer({ vocabSize: config.vocabSize, eosTokenId: config.eosTokenId });
}

/** An in-memory model description: a config plus weights (random from `seed` when weights are absent). */
export interface ModelSpec {
  config: GptConfig;
  weights?: GptWeights;
  seed?: number;
  tokenizer?: GptTokenizer;
}

/** Loads a model from a checkpoint directory, a built-in name, or an in-memory spec. */
export async function loadModel(source: string | ModelSpec = DEFAULT_MODEL): Promise<Gpt> {
  if (typeof source !== 'string') {
    const config = validateConfig(source.config);
    const weights = source.weights === undefined ? randomWeights(config, source.seed ?? 0) : weightsFromCheckpoint(config, source.weights);
    return new Gpt(config, source.tokenizer ?? byteTokenizer(config), weights);
  }
  const builtin = BUILTINS[source];
  if (builtin?.kind === 'random') return new Gpt(builtin.config, byteTokenizer(builtin.config), randomWeights(builtin.config, builtin.seed));
  return loadCheckpointDir(builtin?.dir ?? source);
}

/** What a model is, without its weights: enough to size KV pools and tokenize on a thread with no backend. */
export interface ModelDescription {
  config: GptConfig;
  tokenizer: GptTokenizer;
}

/** Reads a built-in name's or a checkpoint directory's config and tokenizer (no weights, no tensors). */
export function describeModel(source: string = DEFAULT_MODEL): ModelDescription {
  const builtin = BUILTINS[source];
  if (builtin?.kind === 'random') return { config: builtin.config, tokenizer: byteTokenizer(builtin.config) };
  const dir = builtin?.dir ?? source;
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new ModelNotFoundError(dir, `model "${dir}" is neither a checkpoint directory nor a built-in model (${BUILTIN_MODELS.join(', ')})`);
  }
  const configPath = join(dir, 'config.json');
  if (!existsSync(configPath)) throw new ModelNotFoundError(dir, `checkpoint directory "${dir}" has no config.json`);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(configPath, 'utf8'));
  } catch (e) {
    throw new ConfigError('(file)', `${configPath} is not valid JSON (${(e as Error).message})`);
  }
  const config = parseHfConfig(json);
  return { config, tokenizer: loadTokenizerFromDir(dir) ?? byteTokenizer(config) };
}

function loadCheckpointDir(dir: string): Gpt {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new ModelNotFoundError(dir, `model "${dir}" is neither a checkpoint directory nor a built-in model (${BUILTIN_MODELS.join(', ')})`);
  }
  const configPath = join(dir, 'config.json');
  const weightsPath = join(dir, 'model.safetensors');
  for (const p of [configPath, weightsPath]) {
    if (!existsSync(p)) throw new ModelNotFoundError(dir, `checkpoint directory "${dir}" has no ${p.slice(dir.length + 1)}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(configPath, 'utf8'));
  } catch (e) {
    throw new ConfigError('(file)', `${configPath} is not valid JSON (${(e as Error).message})`);
  }
  const config = parseHfConfig(json);
  const weights = weightsFromCheckpoint(config, parseSafetensors(new Uint8Array(readFileSync(weightsPath)), weightsPath));
  const tokenizer = loadTokenizerFromDir(dir) ?? byteTokenizer(config);
  if (tokenizer.kind === 'bytes' && config.vocabSize < 256) {
    throw new ConfigError('vocab_size', `${config.vocabSize} is below 256, so the default byte-level tokenizer cannot be used and no tokenizer files were found in ${dir}`);
  }
  return new Gpt(config, tokenizer, weights);
}

/** Options of saveCheckpoint. */
export interface SaveOptions {
  /** Storage dtype (default F32). */
  dtype?: SafetensorsDtype;
  /** Write names with the `transformer.` prefix (default true, as transformers does). */
  prefix?: boolean;
}

/** Writes config.json and model.safetensors (Hugging Face names) to `dir`. */
export function saveCheckpoint(dir: string, model: Pick<Gpt, 'config' | 'weights'>, opts: SaveOptions = {}): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(toHfConfig(model.config), null, 2));
  const prefix = opts.prefix ?? true ? 'transformer.' : '';
  const named = new Map([...model.weights].map(([name, t]) => [name === LM_HEAD ? name : prefix + name, t] as const));
  writeFileSync(join(dir, 'model.safetensors'), serializeSafetensors(named, opts.dtype ?? 'F32'));
}
