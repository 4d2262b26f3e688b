/**
 * `baton generate [--model DIR|NAME] (--ids 3,17,42 | --prompt TEXT) --max-tokens N
 * [--temperature T] [--top-k K] [--top-p P] [--seed S] [--stop-ids 1,2] [--backend B] [--json]`:
 * plain single-model generation. With --json prints {"ids", "text", "backend", ...} (ids are the
 * generated ids only); otherwise streams the text.
 */
import { parseArgs } from 'node:util';
import { generate } from '@baton/model';
import { CliError, parseIds, parseNumber } from './cli-error.js';
import { MODEL_OPTIONS, openModel } from './model-options.js';

/** One-line usage of the command. */
export const GENERATE_USAGE =
  'baton generate [--model DIR|NAME] (--ids 3,17,42 | --prompt TEXT) --max-tokens N [--temperature T] [--top-k K] [--top-p P] [--seed S] [--stop-ids IDS] [--backend B] [--json]';

const OPTIONS = {
  ...MODEL_OPTIONS,
  ids: { type: 'string' },
  prompt: { type: 'string' },
  'max-tokens': { type: 'string' },
  temperature: { type: 'string' },
  'top-k': { type: 'string' },
  'top-p': { type: 'string' },
  seed: { type: 'string' },
  'stop-ids': { type: 'string' },
  json: { type: 'boolean' },
} as const;

/** Runs the generate command; `write` receives streamed text (without --json). Returns the final output. */
export async function generateCommand(args: string[], write: (text: string) => void): Promise<string> {
  const { values: v } = parseArgs({ args, options: OPTIONS, strict: true, allowPositionals: false });
  if ((v.ids === undefined) === (v.prompt === undefined)) throw new CliError('--ids/--prompt: give exactly one of them');
  if (v['max-tokens'] === undefined) throw new CliError('--max-tokens: required');
  const maxTokens = parseNumber(v['max-tokens'], '--max-tokens', { min: 0, integer: true, fallback: 0 });
  const sampling = {
    temperature: parseNumber(v.temperature, '--temperature', { min: 0, fallback: 0 }),
    topK: parseNumber(v['top-k'], '--top-k', { min: 0, integer: true, fallback: 0 }),
    topP: parseNumber(v['top-p'], '--top-p', { min: Number.MIN_VALUE, max: 1, fallback: 1 }),
  };
  const seed = parseNumber(v.seed, '--seed', { min: 0, integer: true, fallback: 0 });
  const stopIds = v['stop-ids'] === undefined ? [] : parseIds(v['stop-ids'], '--stop-ids');
  if (v.prompt === '') throw new CliError('--prompt: must not be empty');
  const { model, backend } = await openModel(v);
  try {
    const promptIds = v.ids !== undefined ? parseIds(v.ids, '--ids') : model.tokenizer.encode(v.prompt as string);
    const bad = promptIds.find((id) => id >= model.config.vocabSize);
    if (bad !== undefined) throw new CliError(`--ids: token id ${bad} is outside the vocabulary [0, ${model.config.vocabSize})`);
    if (promptIds.length + maxTokens > model.config.nPositions) {
      throw new CliError(`--max-tokens: prompt (${promptIds.length}) + max tokens (${maxTokens}) exceeds the model's ${model.config.nPositions} positions`);
    }
    const decoder = model.tokenizer.createDecoder();
    const started = performance.now();
    const result = generate(model, {
      promptIds, maxTokens, sampling, seed, stopIds,
      onToken: v.json ? undefined : (id) => write(decoder.push([id])),
    });
    if (!v.json) return decoder.flush() + '\n';
    return JSON.stringify({
      ids: result.ids,
      text: model.tokenizer.decode(result.ids),
      backend: backend.name,
      promptIds,
      stopReason: result.stopReason,
      elapsedMs: Math.round(performance.now() - started),
    });
  } finally {
    model.dispose();
  }
}
