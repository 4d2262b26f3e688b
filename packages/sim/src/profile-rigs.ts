/**
 * The model rigs the profiler times and its co-run neighbour keeps busy: seeded prompts, KV
 * backings filled with random rows (a cached or handed-off sequence), one timed prefill call, and
 * a decode batch stepped greedily as the decode actor steps it.
 *
 * Invariants: every sequence a rig attaches is released by the rig (`prefillOnce`) or its
 * `release` (`decodeRig`); nothing here disposes the model.
 */
import { ArrayKvBacking, createRng, type Gpt } from '@baton/model';

/** `n` seeded token ids below `vocab`. */
export function tokensOf(n: number, seed: number, vocab: number): number[] {
  const rng = createRng(seed);
  return Array.from({ length: n }, () => Math.floor(rng.next() * vocab));
}

/** A backing holding `length` random K/V rows (a handed-off or cached sequence). */
export function filledBacking(model: Gpt, length: number, extra: number): ArrayKvBacking {
  const { nLayer, nEmbd } = model.config;
  const backing = new ArrayKvBacking({ nLayer, nEmbd, capacity: length + extra });
  if (length > 0) {
    const rng = createRng(length);
    const rows = Float32Array.from({ length: length * nEmbd }, () => rng.next() - 0.5);
    for (let l = 0; l < nLayer; l++) {
      backing.write(l, 'k', 0, rows);
      backing.write(l, 'v', 0, rows);
    }
  }
  return backing;
}

/** One timed prefill of `tokens` after `prefix` cached tokens (the prefix load is not timed). */
export function prefillOnce(model: Gpt, tokens: number, prefix: number): number {
  const seq = model.attach(filledBacking(model, prefix, tokens), { length: prefix });
  try {
    for (let l = 0; l < model.config.nLayer; l++) seq.loadLayer(l);
    const ids = tokensOf(tokens, tokens + prefix, model.config.vocabSize);
    const t0 = performance.now();
    model.prefill(seq, ids, { chunkSize: tokens });
    return performance.now() - t0;
  } finally {
    seq.release();
  }
}

/** `batch` sequences at `context` (one shared backing: rows are never read back); `step` times one greedy decode step. */
export function decodeRig(model: Gpt, batch: number, context: number, steps: number): { step: () => number; release: () => void } {
  const backing = filledBacking(model, context, steps + 2);
  const seqs = Array.from({ length: batch }, () => model.attach(backing, { length: context }));
  for (const s of seqs) for (let l = 0; l < model.config.nLayer; l++) s.loadLayer(l);
  return {
    step: () => {
      const items = seqs.map((seq, i) => ({ seq, token: (i * 7) % model.config.vocabSize }));
      const t0 = performance.now();
      model.decodeGreedy(items);
      return performance.now() - t0;
    },
    release: () => { for (const s of seqs) s.release(); },
  };
}

