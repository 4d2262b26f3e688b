/**
 * Bench models: built-in GPT-2 shapes with seeded random weights (byte vocabulary, 1024
 * positions), generated at load, so a benchmark can pick a model by its size without a checkpoint
 * file. `baton-4x256` is the shape (and seed) of `baton-tiny`; `baton-8x512` holds ~25 M
 * parameters (100 MB of float32 weights, beyond a CPU's last-level cache); `baton-12x768` is
 * GPT-2 small's shape (~85 M parameters, 340 MB).
 *
 * Invariants: every entry is a valid GptConfig (nEmbd divisible by nHead, head size 32 or 64,
 * MLP width 4 x nEmbd); a name always yields the same weights.
 */
import type { GptConfig } from './config.js';

/** A built-in model: its hyper-parameters and the seed of its random weights. */
export interface BuiltinModel {
  kind: 'random';
  config: GptConfig;
  seed: number;
}

function shape(nLayer: number, nEmbd: number, nHead: number): GptConfig {
  return {
    vocabSize: 256, nPositions: 1024, nEmbd, nLayer, nHead, nInner: 4 * nEmbd, activation: 'gelu_new',
    layerNormEpsilon: 1e-5, initializerRange: 0.02, bosTokenId: null, eosTokenId: null,
  };
}

/** The bench shapes by name (`baton-<layers>x<width>`). */
export const BENCH_MODELS: Readonly<Record<string, BuiltinModel>> = Object.freeze({
  'baton-4x256': { kind: 'random', config: shape(4, 256, 8), seed: 1234 },
  'baton-8x512': { kind: 'random', config: shape(8, 512, 8), seed: 8512 },
  'baton-12x768': { kind: 'random', config: shape(12, 768, 12), seed: 12768 },
});
