/**
 * A tiny in-repo corpus and model shape for the training tests (seconds on tfjs cpu): a few
 * short English paragraphs, a 1-layer 16-wide byte-level model, context 16.
 */
import type { GptConfig } from '@baton/model';
import { splitCorpus, type Corpus, BYTE_VOCAB_SIZE, END_OF_TEXT_ID } from '../corpus.js';

const PARAGRAPHS = [
  'The house stood at the end of a quiet lane, and the garden before it was full of roses.',
  'She walked to the village every morning, and every morning the baker gave her a warm loaf.',
  'It was a fine day, and the whole family went out to walk by the river after dinner.',
  'He said that he would come again in the spring, when the roads were better.',
  'The letter was short, but it made her very happy, and she read it twice before breakfast.',
  'They sat by the fire and talked of the summer, of the sea, and of old friends.',
  'A little rain fell in the evening, and the garden smelled sweet when the sun came out again.',
  'Nobody could tell what he meant by it.',
];

/** The tiny corpus, last paragraph held out. */
export function tinyCorpus(): Corpus {
  return splitCorpus(PARAGRAPHS, 0.1);
}

/** A 1-layer, 16-wide, 2-head byte-level model with 32 positions. */
export function tinyConfig(): GptConfig {
  return {
    vocabSize: BYTE_VOCAB_SIZE, nPositions: 32, nEmbd: 16, nLayer: 1, nHead: 2, nInner: 64, activation: 'gelu_new',
    layerNormEpsilon: 1e-5, initializerRange: 0.02, bosTokenId: END_OF_TEXT_ID, eosTokenId: END_OF_TEXT_ID,
  };
}
