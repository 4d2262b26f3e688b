/**
 * The prompts of a generate command: `--ids`, `--prompt` or `--prompts-file` (one prompt per line),
 * tokenized and checked against the model before any model or engine starts. Invariants: every
 * returned prompt is non-empty, inside the vocabulary and leaves room for `maxTokens` in the
 * context; `index` is the 0-based line number of its prompt (0 for --ids / --prompt); blank
 * lines of a prompts file are skipped (their numbers are not reused).
 */
import { readFileSync } from 'node:fs';
import type { GptConfig, GptTokenizer } from '@baton/model';
import { CliError, parseIds } from './cli-error.js';

/** One prompt to generate from. */
export interface PromptItem {
  index: number;
  ids: number[];
}

/** Raw flag values naming the prompts. */
export interface PromptFlags {
  ids?: string;
  prompt?: string;
  'prompts-file'?: string;
}

/** What prompts are checked against. */
export interface PromptLimits {
  config: GptConfig;
  tokenizer: GptTokenizer;
  maxTokens: number;
}

/** Reads and checks the prompts named by exactly one of --ids, --prompt, --prompts-file. */
export function readPrompts(v: PromptFlags, limits: PromptLimits): PromptItem[] {
  const given = [v.ids, v.prompt, v['prompts-file']].filter((x) => x !== undefined).length;
  if (given !== 1) throw new CliError('--ids/--prompt/--prompts-file: give exactly one of them');
  if (v.ids !== undefined) return [check({ index: 0, ids: parseIds(v.ids, '--ids') }, '--ids', limits)];
  if (v.prompt !== undefined) {
    if (v.prompt === '') throw new CliError('--prompt: must not be empty');
    return [check({ index: 0, ids: limits.tokenizer.encode(v.prompt) }, '--prompt', limits)];
  }
  return readPromptsFile(v['prompts-file'] as string, limits);
}

function readPromptsFile(file: string, limits: PromptLimits): PromptItem[] {
  let content: string;
  try {
    content = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    throw new CliError(`--prompts-file: cannot read "${file}" (${typeof code === 'string' ? code : (e as Error).message})`);
  }
  const prompts: PromptItem[] = [];
  content.split(/\r?\n/).forEach((line, index) => {
    if (line.trim() === '') return;
    prompts.push(check({ index, ids: limits.tokenizer.encode(line) }, `--prompts-file: ${file} line ${index + 1}`, limits));
  });
  if (prompts.length === 0) throw new CliError(`--prompts-file: "${file}" has no prompts (one per line)`);
  return prompts;
}

function check(item: PromptItem, source: string, { config, maxTokens }: PromptLimits): PromptItem {
  if (item.ids.length === 0) throw new CliError(`${source}: the prompt has no tokens`);
  const bad = item.ids.find((id) => id >= config.vocabSize);
  if (bad !== undefined) throw new CliError(`${source}: token id ${bad} is outside the vocabulary [0, ${config.vocabSize})`);
  if (item.ids.length + maxTokens > config.nPositions) {
    throw new CliError(`${source}: prompt (${item.ids.length} tokens) + --max-tokens (${maxTokens}) exceeds the model's ${config.nPositions} positions`);
  }
  return item;
}
