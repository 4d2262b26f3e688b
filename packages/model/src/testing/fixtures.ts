/**
 * Test helpers shared by the model's tests: fixture location, logits comparison and a small
 * random config. Not exported from the package index.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { GptConfig } from '../config.js';

/** The Hugging Face reference checkpoint (../shared/fixtures/gpt2-tiny-bytes relative to the repo). */
export const FIXTURE_DIR = fileURLToPath(new URL('../../../../../shared/fixtures/gpt2-tiny-bytes/', import.meta.url));
/** Whether the fixture is present. */
export const HAVE_FIXTURE = existsSync(`${FIXTURE_DIR}expected.json`);

/** max |a - b| / max |ref|. */
export function relativeDiff(ref: ArrayLike<number>, got: ArrayLike<number>): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < ref.length; i++) {
    diff = Math.max(diff, Math.abs(ref[i] - got[i]));
    scale = Math.max(scale, Math.abs(ref[i]));
  }
  return diff / scale;
}

/** max |a - b|. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

/** A small config for fast tests. */
export function smallConfig(over: Partial<GptConfig> = {}): GptConfig {
  return {
    vocabSize: 256, nPositions: 160, nEmbd: 32, nLayer: 2, nHead: 4, nInner: 128, activation: 'gelu_new',
    layerNormEpsilon: 1e-5, initializerRange: 0.2, bosTokenId: null, eosTokenId: null, ...over,
  };
}
