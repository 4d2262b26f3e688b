/**
 * Batches of training windows: `batch` windows of `context + 1` consecutive tokens, inputs the
 * first `context` and targets the last `context`. Training windows start at offsets drawn from a
 * generator seeded by (seed, step), so step n's batch never depends on earlier steps (a resumed
 * run draws the same batches). Eval windows are fixed: evenly spaced over the held-out tokens.
 */
import { createRng } from '@baton/model';
import { TrainDataError } from './errors.js';

/** Input and target ids, row-major [batch, context]. */
export interface Batch {
  inputs: Int32Array;
  targets: Int32Array;
  batch: number;
  context: number;
  /** Each row's first position (all 0 unless the windows are spread over the model's positions). */
  offsets: Int32Array;
}

function windows(tokens: Uint16Array, starts: readonly number[], context: number, offsets = new Int32Array(starts.length)): Batch {
  const inputs = new Int32Array(starts.length * context);
  const targets = new Int32Array(starts.length * context);
  starts.forEach((s, b) => {
    for (let t = 0; t < context; t++) {
      inputs[b * context + t] = tokens[s + t];
      targets[b * context + t] = tokens[s + t + 1];
    }
  });
  return { inputs, targets, batch: starts.length, context, offsets };
}

function checkLength(tokens: Uint16Array, context: number, what: string): void {
  if (tokens.length < context + 1) {
    throw new TrainDataError(what, `has ${tokens.length} tokens, fewer than context + 1 = ${context + 1}; use a smaller --context or more data`);
  }
}

/** A 32-bit seed mixing the run seed and the step (so neighbouring steps get unrelated streams). */
function stepSeed(seed: number, step: number): number {
  let h = Math.imul(seed >>> 0 ^ 0x85ebca6b, 0xc2b2ae35) ^ Math.imul(step + 1, 0x27d4eb2f);
  h ^= h >>> 15;
  return Math.imul(h, 0x165667b1) >>> 0;
}

/**
 * The training batch of optimiser step `step`. With `positions` > context, each row also gets a
 * random first position in [0, positions - context], so that every position embedding of a
 * model longer than the training context is trained.
 */
export function trainBatch(tokens: Uint16Array, opts: { batch: number; context: number; seed: number; step: number; positions?: number }): Batch {
  checkLength(tokens, opts.context, 'the training split');
  const rng = createRng(stepSeed(opts.seed, opts.step));
  const span = tokens.length - opts.context;
  const starts = Array.from({ length: opts.batch }, () => Math.floor(rng.next() * span));
  const room = (opts.positions ?? opts.context) - opts.context + 1;
  const offsets = Int32Array.from(starts, () => (room > 1 ? Math.floor(rng.next() * room) : 0));
  return windows(tokens, starts, opts.context, offsets);
}

/** The fixed eval batches: `count` batches of `batch` windows spread evenly over `tokens`. */
export function evalBatches(tokens: Uint16Array, opts: { batch: number; context: number; count: number }): Batch[] {
  checkLength(tokens, opts.context, 'the held-out split');
  const n = opts.batch * opts.count;
  const span = tokens.length - opts.context - 1;
  const starts = Array.from({ length: n }, (_, i) => (n === 1 ? 0 : Math.floor((i * span) / (n - 1))));
  return Array.from({ length: opts.count }, (_, i) => windows(tokens, starts.slice(i * opts.batch, (i + 1) * opts.batch), opts.context));
}
