/**
 * TetriInfer-style output-length predictor: classifies a prompt (token ids) into an output-length
 * BUCKET with a small online multinomial logistic regression (AdaGrad SGD) over hashed sparse
 * features, and learns from every finished request (`learn`). Accuracy is measured prequentially:
 * each `learn` first scores the prompt with the current model, records (actual, predicted) in the
 * confusion matrix, then takes one AdaGrad step.
 *
 * Invariants: fully deterministic for a given seed and sequence of calls (seeded init, no
 * Math.random, no clocks); memory is O(buckets × hashDim) whatever the traffic, plus the features
 * of prompt arrays still alive elsewhere (a weak cache shared by the predictors of a thread: a
 * prompt predicted and later learned, or seen by several predictors, is hashed once).
 */
import { EngineError } from './errors.js';

/** One output-length bucket: `min <= length < max` (max null = unbounded). */
export interface LengthBucket {
  index: number;
  min: number;
  max: number | null;
}

/** A prediction: the most likely bucket and the full distribution. */
export interface LengthPrediction {
  bucket: number;
  range: LengthBucket;
  /** One probability per bucket; sums to 1. */
  probabilities: number[];
}

/** Options of {@link LengthPredictor}. */
export interface LengthPredictorOptions {
  /** Inner bucket boundaries, strictly increasing positive integers. Default [32, 128, 512]. */
  bucketEdges?: readonly number[];
  /** Size of the hashed feature space. Default 4096. */
  hashDim?: number;
  /** AdaGrad base step size. Default 0.1. */
  learningRate?: number;
  /** L2 weight decay applied to the weights a step touches. Default 1e-4. */
  l2?: number;
  /** How many leading and trailing tokens get position-specific features. Default 4. */
  edgeTokens?: number;
  /** Seed of the weight initialization. Default 1. */
  seed?: number;
}

/** Prequential accuracy of the predictor. */
export interface LengthPredictorStats {
  examples: number;
  /** Share of `learn` calls whose prior prediction was right; null before any. */
  accuracy: number | null;
  buckets: Array<{ range: LengthBucket; support: number; correct: number; accuracy: number | null }>;
  /** `confusion[actual][predicted]` counts. */
  confusion: number[][];
}

interface SparseVector {
  index: Int32Array;
  value: Float64Array;
}

/**
 * Features by prompt array, for the (hashDim, edgeTokens) they were computed with.
 * NOTE: prompt arrays are never written after submission (readonly), so the array is the key.
 */
const featureCache = new WeakMap<readonly number[], SparseVector & { dim: number; edge: number }>();

/** Online output-length bucket classifier (see file header). */
export class LengthPredictor {
  readonly buckets: readonly LengthBucket[];
  readonly #dim: number;
  readonly #lr: number;
  readonly #l2: number;
  readonly #edge: number;
  /**
   * Weights and their AdaGrad accumulators of squared gradients, interleaved [feature][bucket]
   * [weight, accumulator]: what a feature's predict and update touch is one cache line.
   * NOTE: initialized in [bucket][feature] order, and every sum and update keeps its order per
   * weight, so the results are those of the plain [bucket][feature] loops.
   */
  readonly #wg: Float64Array;
  readonly #confusion: number[][];
  #examples = 0;

  constructor(opts: LengthPredictorOptions = {}) {
    const edges = opts.bucketEdges ?? [32, 128, 512];
    edges.forEach((e, i) => {
      if (!Number.isInteger(e) || e < 1 || (i > 0 && e <= edges[i - 1])) {
        throw new EngineError(`LengthPredictor: bucketEdges must be strictly increasing positive integers; edge[${i}] = ${e}`);
      }
    });
    this.buckets = [0, ...edges].map((min, index) => ({ index, min, max: index < edges.length ? edges[index] : null }));
    this.#dim = checkPositive(opts.hashDim ?? 4096, 'hashDim', true);
    this.#lr = checkPositive(opts.learningRate ?? 0.1, 'learningRate', false);
    this.#l2 = opts.l2 ?? 1e-4;
    if (!(this.#l2 >= 0 && this.#l2 < 1)) throw new EngineError(`LengthPredictor: l2 must be in [0, 1), got ${this.#l2}`);
    this.#edge = opts.edgeTokens ?? 4;
    const k = this.buckets.length;
    this.#wg = new Float64Array(2 * k * this.#dim);
    const rand = mulberry32(opts.seed ?? 1);
    for (let c = 0; c < k; c++) for (let f = 0; f < this.#dim; f++) this.#wg[2 * (f * k + c)] = (rand() - 0.5) * 0.02;
    this.#confusion = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  }

  /** The bucket an output of `length` tokens falls into. */
  bucketOf(length: number): LengthBucket {
    if (!Number.isInteger(length) || length < 0) throw new EngineError(`LengthPredictor: output length must be a non-negative integer, got ${length}`);
    let i = this.buckets.length - 1;
    while (this.buckets[i].min > length) i--;
    return this.buckets[i];
  }

  /** Predicts the output-length bucket of a prompt. */
  predict(promptIds: readonly number[]): LengthPrediction {
    return this.#predict(this.#features(promptIds));
  }

  /**
   * Learns from a finished request: records the current model's prediction in the stats, then
   * takes one AdaGrad step toward the actual bucket. Returns that prior prediction.
   */
  learn(promptIds: readonly number[], actualOutputLength: number): LengthPrediction {
    const actual = this.bucketOf(actualOutputLength).index;
    const x = this.#features(promptIds);
    const prior = this.#predict(x);
    this.#confusion[actual][prior.bucket]++;
    this.#examples++;
    // AdaGrad: per-weight step sizes, so rare but decisive features learn fast while common,
    // uninformative ones settle. L2 is applied lazily to the weights this step touches.
    const wg = this.#wg;
    const l2 = this.#l2;
    const lr = this.#lr;
    const { index, value } = x;
    const n = index.length;
    const k = this.buckets.length;
    const err = prior.probabilities.map((p, c) => p - (c === actual ? 1 : 0));
    for (let j = 0; j < n; j++) {
      const base = 2 * index[j] * k;
      const v = value[j];
      for (let c = 0; c < k; c++) {
        const at = base + 2 * c;
        const g = err[c] * v + l2 * wg[at];
        wg[at + 1] += g * g;
        wg[at] -= (lr * g) / (Math.sqrt(wg[at + 1]) + 1e-8);
      }
    }
    return prior;
  }

  /** Prequential accuracy overall and per bucket, with the confusion matrix. */
  stats(): LengthPredictorStats {
    const correctTotal = this.#confusion.reduce((a, row, i) => a + row[i], 0);
    return {
      examples: this.#examples,
      accuracy: this.#examples === 0 ? null : correctTotal / this.#examples,
      buckets: this.buckets.map((range, i) => {
        const support = this.#confusion[i].reduce((a, b) => a + b, 0);
        const correct = this.#confusion[i][i];
        return { range, support, correct, accuracy: support === 0 ? null : correct / support };
      }),
      confusion: this.#confusion.map((row) => [...row]),
    };
  }

  #predict(x: SparseVector): LengthPrediction {
    const k = this.buckets.length;
    const logits = new Array<number>(k).fill(0);
    const wg = this.#wg;
    const { index, value } = x;
    const n = index.length;
    for (let j = 0; j < n; j++) {
      const base = 2 * index[j] * k;
      const v = value[j];
      for (let c = 0; c < k; c++) logits[c] += wg[base + 2 * c] * v;
    }
    const probabilities = softmax(logits);
    let bucket = 0;
    for (let c = 1; c < k; c++) if (probabilities[c] > probabilities[bucket]) bucket = c;
    return { bucket, range: this.buckets[bucket], probabilities };
  }

  /**
   * Features: bias; log prompt length; a one-hot of the power-of-two length class; hashed token
   * presence (binary, so "contains X" carries the same weight at any length); hashed bigrams scaled
   * by 1/sqrt(count) so long prompts do not dominate; the first and last `edgeTokens` tokens by
   * position (instructions tend to sit at the edges).
   */
  #features(ids: readonly number[]): SparseVector {
    const cached = featureCache.get(ids);
    if (cached !== undefined && cached.dim === this.#dim && cached.edge === this.#edge) return cached;
    const unique = new Set(ids);
    const n = ids.length;
    const size = 3 + unique.size + Math.max(0, n - 1) + 2 * Math.min(this.#edge, n);
    const index = new Int32Array(size);
    const value = new Float64Array(size);
    let at = 0;
    const dim = this.#dim;
    const add = (h: number, v: number): void => {
      index[at] = h % dim;
      value[at++] = v;
    };
    add(hash3(1, 0, 0), 1);
    add(hash3(2, 0, 0), Math.log1p(n) / Math.log(4096));
    add(hash3(3, Math.floor(Math.log2(n + 1)), 0), 1);
    for (const id of unique) add(hash3(4, id, 0), 1);
    const scale = 1 / Math.sqrt(Math.max(1, n - 1));
    for (let i = 1; i < n; i++) add(hash3(5, ids[i - 1], ids[i]), scale);
    for (let i = 0; i < Math.min(this.#edge, n); i++) {
      add(hash3(6, i, ids[i]), 1);
      add(hash3(7, i, ids[n - 1 - i]), 1);
    }
    const x = { index, value, dim, edge: this.#edge };
    featureCache.set(ids, x);
    return x;
  }
}

function softmax(logits: number[]): number[] {
  const m = Math.max(...logits);
  const e = logits.map((l) => Math.exp(l - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

/** FNV-1a over three 32-bit words, byte by byte (low byte first); non-negative. */
function hash3(a: number, b: number, c: number): number {
  return fnvWord(fnvWord(fnvWord(0x811c9dc5, a), b), c) >>> 0;
}

function fnvWord(h: number, word: number): number {
  h = Math.imul(h ^ (word & 0xff), 0x01000193);
  h = Math.imul(h ^ ((word >>> 8) & 0xff), 0x01000193);
  h = Math.imul(h ^ ((word >>> 16) & 0xff), 0x01000193);
  return Math.imul(h ^ (word >>> 24), 0x01000193);
}

/** Small seeded PRNG (mulberry32) in [0, 1). */
function mulberry32(seed: number): () => number {
  let t = seed >>> 0;
  return () => {
    t = (t + 0x6d2b79f5) >>> 0;
    let r = Math.imul(t ^ (t >>> 15), 1 | t);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

function checkPositive(v: number, name: string, integer: boolean): number {
  if (!(v > 0) || !Number.isFinite(v) || (integer && !Number.isInteger(v))) {
    throw new EngineError(`LengthPredictor: ${name} must be a positive ${integer ? 'integer' : 'number'}, got ${v}`);
  }
  return v;
}
