/**
 * Public API of @baton/model: a GPT-2-compatible tiny GPT on TensorFlow.js — config, safetensors
 * checkpoints, tokenizers, chunked prefill and batched decode over a KvBacking, sampling, backends.
 * The WebGPU path's checks and profilers are a separate entry point, `@baton/model/gpu-checks`.
 */

/** KV storage contract implemented by @baton/kv-cache and ArrayKvBacking. */
export type { KvBacking, KvKind } from './kv-backing.js';
/** Growable in-memory KvBacking. */
export { ArrayKvBacking, type ArrayKvBackingOptions } from './array-kv-backing.js';
/** Backend selection (wasm default, cpu, webgpu, tensorflow). */
export { initBackend, backendMemory, closeBackend, defaultBackendName, parseBackendName, BACKEND_NAMES, type BackendName, type BackendInfo, type InitBackendOptions } from './backend.js';
/** GPT-2 hyper-parameters and Hugging Face config.json conversion. */
export { parseHfConfig, toHfConfig, ACTIVATIONS, type GptConfig, type Activation } from './config.js';
/** Loading and saving models. */
export { loadModel, describeModel, saveCheckpoint, BUILTIN_MODELS, DEFAULT_MODEL, type ModelSpec, type ModelDescription, type SaveOptions } from './checkpoint.js';
/** The model and its sequences. */
export { Gpt, type PrefillOptions, type DecodeItem, type StepSegment } from './gpt.js';
/** A sequence attached to a model. */
export { ModelSequence } from './model-sequence.js';
/** Weights by Hugging Face name and seeded random initialisation. */
export { randomWeights, expectedShapes, type GptWeights } from './weights.js';
/** safetensors reading/writing. */
export { parseSafetensors, serializeSafetensors, type SafetensorsDtype, type NamedTensor } from './safetensors.js';
/** Tokenizers. */
export { ByteTokenizer, BpeTokenizer, loadTokenizerFromDir, gpt2TokenizerJson, type GptTokenizer, type IncrementalDecoder } from './tokenizer.js';
/** Sampling. */
export { sample, createSampler, argmax, validateSampling, type SamplingParams, type Sampler } from './sampling.js';
/** Deterministic random numbers. */
export { createRng, type Rng } from './rng.js';
/** Plain single-model generation. */
export { generate, type GenerateOptions, type GenerateResult, type StopReason } from './generate.js';
/** The GPU host thread failed, died or timed out (webgpu backend). */
export { GpuHostError } from './gpu/gpu-client.js';
/** Errors. */
export {
  ModelError, ConfigError, SafetensorsError, WeightsError, ModelNotFoundError, TokenizerError,
  BackendUnavailableError, KvCapacityError, ModelArgumentError,
} from './errors.js';
