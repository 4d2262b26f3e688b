/**
 * The plain single-model generate loop: prefill the prompt, then decode one token at a time with
 * the sampler until maxTokens or a stop id. The reference the engine's serving modes must match.
 */
import { ArrayKvBacking } from './array-kv-backing.js';
import { ModelArgumentError } from './errors.js';
import type { Gpt } from './gpt.js';
import { createRng } from './rng.js';
import { createSampler, type SamplingParams } from './sampling.js';

/** Options of generate. */
export interface GenerateOptions {
  promptIds: readonly number[];
  maxTokens: number;
  sampling?: SamplingParams;
  /** Seed of the sampling Rng (default 0). */
  seed?: number;
  /** Generation stops after emitting one of these ids or the model's eosTokenId (it is included in the output). */
  stopIds?: readonly number[];
  /** Prefill chunk size. */
  chunkSize?: number;
  /** Called with each generated id as it is produced. */
  onToken?: (id: number) => void;
}

/** Why generation ended. */
export type StopReason = 'max_tokens' | 'stop_id' | 'context_full';

/** Result of generate. */
export interface GenerateResult {
  /** Generated ids only (not the prompt). */
  ids: number[];
  stopReason: StopReason;
}

/** Generates up to maxTokens ids after the prompt. */
export function generate(model: Gpt, opts: GenerateOptions): GenerateResult {
  if (opts.promptIds.length === 0) throw new ModelArgumentError('promptIds', 'the prompt needs at least one token');
  if (!Number.isInteger(opts.maxTokens) || opts.maxTokens < 0) throw new ModelArgumentError('maxTokens', `${opts.maxTokens} must be an integer >= 0`);
  const sampler = createSampler(opts.sampling ?? {}, createRng(opts.seed ?? 0));
  const stop = new Set(opts.stopIds ?? []);
  if (model.config.eosTokenId !== null) stop.add(model.config.eosTokenId);
  const { nLayer, nEmbd, nPositions } = model.config;
  const seq = model.attach(new ArrayKvBacking({ nLayer, nEmbd, capacity: opts.promptIds.length + opts.maxTokens }));
  const ids: number[] = [];
  try {
    if (opts.maxTokens === 0) return { ids, stopReason: 'max_tokens' };
    let logits = model.prefill(seq, opts.promptIds, { chunkSize: opts.chunkSize });
    for (;;) {
      const id = sampler(logits);
      ids.push(id);
      opts.onToken?.(id);
      if (stop.has(id)) return { ids, stopReason: 'stop_id' };
      if (ids.length >= opts.maxTokens) return { ids, stopReason: 'max_tokens' };
      if (seq.length >= nPositions) return { ids, stopReason: 'context_full' };
      logits = model.decode([{ seq, token: id }]);
    }
  } finally {
    seq.release();
  }
}
