/**
 * RequestSampler: picks a request's tokens from logits rows and decides when it ends, wherever the
 * request happens to run (prefill actor, decode actor, after a preemption).
 *
 * Invariant: the sampler of a request that has already produced `n` tokens draws exactly the
 * random numbers the plain single-model `generate` would draw for token n + 1, so seeded sampling
 * gives the same tokens in every mode. NOTE: `sample` consumes one `rng.next()` per token when
 * temperature > 0 and none when greedy, so advancing a fresh Rng by `n` draws restores the stream.
 */
import { createRng, sample, type Rng, type SamplingParams } from '@baton/model';
import type { WireRequest, WorkerFinish } from './protocol.js';

/** A sampled token and, when it ends the request, why. */
export interface SampledToken {
  id: number;
  finish: WorkerFinish | null;
}

/** Samples one request's tokens. */
export class RequestSampler {
  readonly #params: SamplingParams;
  readonly #rng: Rng;
  readonly #stop: ReadonlySet<number>;
  readonly #maxTokens: number;
  #produced: number;

  /** @param produced tokens this attempt already produced (on top of `request.emitted`). */
  constructor(request: WireRequest, produced = 0) {
    this.#params = { temperature: request.temperature, topK: request.topK, topP: request.topP };
    this.#rng = createRng(request.seed);
    this.#produced = request.emitted + produced;
    if (request.temperature > 0) for (let i = 0; i < this.#produced; i++) this.#rng.next();
    this.#stop = new Set(request.stopIds);
    this.#maxTokens = request.maxTokens;
  }

  /** Tokens produced so far, by every attempt (the next token's output index). */
  get produced(): number {
    return this.#produced;
  }

  /** True when the request samples greedily (the model may pick the token itself). */
  get greedy(): boolean {
    return this.#params.temperature === 0;
  }

  /** Samples the next token from `row` and says whether it ends the request. */
  next(row: Float32Array): SampledToken {
    return this.take(sample(row, this.#params, this.#rng));
  }

  /** Records a token chosen elsewhere (greedy argmax on the device) and says whether it ends the request. */
  take(id: number): SampledToken {
    this.#produced += 1;
    if (this.#stop.has(id)) return { id, finish: 'stop' };
    if (this.#produced >= this.#maxTokens) return { id, finish: 'length' };
    return { id, finish: null };
  }
}

/** Row `i` of a [B * vocab] logits array. */
export function logitsRow(logits: Float32Array, i: number, vocab: number): Float32Array {
  return logits.subarray(i * vocab, (i + 1) * vocab);
}
