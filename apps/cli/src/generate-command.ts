/**
 * `baton generate`: without --mode / --prompts-file, plain single-model generation in this thread
 * (the reference every engine mode must match); with them, generation through the serving engine
 * (`engine-generate.ts`). With --json prints {"ids", "text", "backend", ...} (ids are the
 * generated ids only); otherwise streams the text with control bytes escaped (`\x1b`; lines and
 * tabs kept), so model output cannot drive the terminal.
 */
import { DEFAULT_MODEL, describeModel, generate } from '@baton/model';
import { CliError, parseIds, parseNumber } from './cli-error.js';
import { parseCommandArgs } from './command-args.js';
import { runEngineGenerate } from './engine-generate.js';
import { terminalText } from './escape-text.js';
import { ENGINE_OPTIONS, engineOptionsFromFlags, parseMode } from './engine-flags.js';
import { MODEL_OPTIONS, openModel } from './model-options.js';
import { readPrompts, type PromptItem } from './prompt-source.js';

/** The flags the command parses (its help page is GENERATE_HELP in help-pages.ts). */
export const GENERATE_OPTIONS = {
  ...MODEL_OPTIONS,
  ...ENGINE_OPTIONS,
  ids: { type: 'string' },
  prompt: { type: 'string' },
  'prompts-file': { type: 'string' },
  'max-tokens': { type: 'string' },
  temperature: { type: 'string' },
  'top-k': { type: 'string' },
  'top-p': { type: 'string' },
  seed: { type: 'string' },
  'stop-ids': { type: 'string' },
  json: { type: 'boolean' },
} as const;

/** Sampling and stopping knobs shared by both paths. */
export interface GenerateParams {
  maxTokens: number;
  temperature: number;
  /** 0 disables top-k. */
  topK: number;
  topP: number;
  seed: number;
  stopIds: number[];
}

/** Runs the generate command; `write` receives streamed output. Returns the final output. */
export async function generateCommand(args: string[], write: (text: string) => void): Promise<string> {
  const v = parseCommandArgs(GENERATE_OPTIONS, args);
  if (v['max-tokens'] === undefined) throw new CliError('--max-tokens: required');
  const useEngine = v.mode !== undefined || v['prompts-file'] !== undefined || v.placement !== undefined || v.processes === true;
  const params: GenerateParams = {
    maxTokens: parseNumber(v['max-tokens'], '--max-tokens', { min: useEngine ? 1 : 0, integer: true, fallback: 0 }),
    temperature: parseNumber(v.temperature, '--temperature', { min: 0, fallback: 0 }),
    topK: parseNumber(v['top-k'], '--top-k', { min: 0, integer: true, fallback: 0 }),
    topP: parseNumber(v['top-p'], '--top-p', { min: Number.MIN_VALUE, max: 1, fallback: 1 }),
    seed: parseNumber(v.seed, '--seed', { min: 0, max: 0xffff_ffff, integer: true, fallback: 0 }),
    stopIds: v['stop-ids'] === undefined ? [] : parseIds(v['stop-ids'], '--stop-ids'),
  };
  // NOTE: --prompts-file without --mode runs the engine's default mode (disaggregated), since a
  // file of prompts is meant to run concurrently.
  const mode = parseMode(v.mode, 'disaggregated');
  const engineOptions = useEngine ? engineOptionsFromFlags(v, mode, { prefill: 1, decode: 1, colocated: 2 }) : null;
  for (const flag of ['prefill', 'decode', 'colocated', 'elastic'] as const) {
    if (!useEngine && v[flag] !== undefined) throw new CliError(`--${flag}: needs --mode`);
  }
  const { config, tokenizer } = describeModel(v.model ?? DEFAULT_MODEL);
  const prompts = readPrompts(v, { config, tokenizer, maxTokens: params.maxTokens });
  if (engineOptions !== null) {
    return runEngineGenerate({ prompts, params, engineOptions, output: v['prompts-file'] !== undefined ? 'json-lines' : v.json === true ? 'json' : 'stream', write });
  }
  return plainGenerate({ prompt: prompts[0], params, values: v, json: v.json === true, write });
}

interface PlainRun {
  prompt: PromptItem;
  params: GenerateParams;
  values: { model?: string; backend?: string };
  json: boolean;
  write: (text: string) => void;
}

async function plainGenerate({ prompt, params, values, json, write }: PlainRun): Promise<string> {
  const { model, backend } = await openModel(values);
  try {
    const decoder = model.tokenizer.createDecoder();
    const started = performance.now();
    const result = generate(model, {
      promptIds: prompt.ids,
      maxTokens: params.maxTokens,
      sampling: { temperature: params.temperature, topK: params.topK, topP: params.topP },
      seed: params.seed,
      stopIds: params.stopIds,
      onToken: json ? undefined : (id) => write(terminalText(decoder.push([id]))),
    });
    if (!json) return terminalText(decoder.flush()) + '\n';
    return JSON.stringify({
      ids: result.ids,
      text: model.tokenizer.decode(result.ids),
      backend: backend.name,
      promptIds: prompt.ids,
      stopReason: result.stopReason,
      elapsedMs: Math.round(performance.now() - started),
    });
  } finally {
    model.dispose();
  }
}
