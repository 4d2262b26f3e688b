/**
 * `baton logits --model DIR --ids 3,17,42 [--backend B]`: prints {"logits": number[][]}, one row
 * of vocabulary logits per input position (one-shot prefill).
 */
import { ArrayKvBacking } from '@baton/model';
import { CliError, parseIds } from './cli-error.js';
import { parseCommandArgs } from './command-args.js';
import { MODEL_OPTIONS, openModel } from './model-options.js';

/** The flags the command parses (its help page is LOGITS_HELP in help-pages.ts). */
export const LOGITS_OPTIONS = { ...MODEL_OPTIONS, ids: { type: 'string' } } as const;

/** Runs the logits command; returns the JSON text to print. */
export async function logitsCommand(args: string[]): Promise<string> {
  const values = parseCommandArgs(LOGITS_OPTIONS, args);
  if (values.ids === undefined) throw new CliError('--ids: required (comma-separated token ids)');
  const ids = parseIds(values.ids, '--ids');
  const { model } = await openModel(values);
  try {
    const { nLayer, nEmbd, vocabSize } = model.config;
    const seq = model.attach(new ArrayKvBacking({ nLayer, nEmbd, capacity: ids.length }));
    const flat = model.prefill(seq, ids, { logits: 'all', chunkSize: ids.length });
    seq.release();
    const logits = ids.map((_, i) => Array.from(flat.subarray(i * vocabSize, (i + 1) * vocabSize)));
    return JSON.stringify({ logits });
  } finally {
    model.dispose();
  }
}
