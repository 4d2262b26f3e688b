/**
 * Tokenizers: byte-level (id = byte value, plus an optional end-of-text id; the default for
 * checkpoints without tokenizer files)
 * and GPT-2 BPE through @huggingface/tokenizers, from `tokenizer.json` or `vocab.json` +
 * `merges.txt`. Each offers an incremental decoder that only emits complete UTF-8 text, so
 * streaming token by token never produces broken characters.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { TokenizerError } from './errors.js';

/** Turns a stream of token ids into text deltas that never split a UTF-8 character. */
export interface IncrementalDecoder {
  /** Adds ids and returns the text that became complete (possibly ''). */
  push(ids: readonly number[]): string;
  /** Returns whatever is still pending (incomplete bytes decode as U+FFFD). */
  flush(): string;
}

/** Text <-> token ids. */
export interface GptTokenizer {
  /** 'bytes' or 'bpe'. */
  readonly kind: 'bytes' | 'bpe';
  /** Number of ids the tokenizer can produce. */
  readonly vocabSize: number;
  encode(text: string): number[];
  decode(ids: readonly number[]): string;
  /** A fresh streaming decoder. */
  createDecoder(): IncrementalDecoder;
}

/** Options of {@link ByteTokenizer}. */
export interface ByteTokenizerOptions {
  /** The model's vocabulary size (at least 256; ids 256 and up are not bytes). */
  vocabSize?: number;
  /** The end-of-text id (decodes to no text), or null. */
  eosTokenId?: number | null;
}

/**
 * Byte-level tokenizer: UTF-8 bytes are the ids 0..255. A model with a larger vocabulary (such as
 * 256 bytes + an end-of-text id) keeps its other ids: the end-of-text id decodes to no text, and
 * any other id of 256 or more decodes to the escape `<|ID|>`, so generated ids always print.
 */
export class ByteTokenizer implements GptTokenizer {
  readonly kind = 'bytes';
  readonly vocabSize: number;
  /** The end-of-text id, or null. */
  readonly eosTokenId: number | null;

  constructor(opts: ByteTokenizerOptions = {}) {
    this.vocabSize = Math.max(256, opts.vocabSize ?? 256);
    this.eosTokenId = opts.eosTokenId !== undefined && opts.eosTokenId !== null && opts.eosTokenId >= 256 ? opts.eosTokenId : null;
  }

  encode(text: string): number[] {
    return Array.from(new TextEncoder().encode(text));
  }

  decode(ids: readonly number[]): string {
    const decoder = this.createDecoder();
    return decoder.push(ids) + decoder.flush();
  }

  createDecoder(): IncrementalDecoder {
    const td = new TextDecoder();
    return {
      push: (ids) => {
        let out = '';
        let run: number[] = [];
        for (const id of ids) {
          if (this.checkId(id) < 256) {
            run.push(id);
            continue;
          }
          // NOTE: a non-byte id ends any incomplete UTF-8 character before it (as U+FFFD).
          out += td.decode(Uint8Array.from(run), { stream: true }) + td.decode() + this.special(id);
          run = [];
        }
        return out + td.decode(Uint8Array.from(run), { stream: true });
      },
      flush: () => td.decode(),
    };
  }

  /** The text of a non-byte id: nothing for end-of-text, else the escape `<|ID|>`. */
  private special(id: number): string {
    return id === this.eosTokenId ? '' : `<|${id}|>`;
  }

  private checkId(id: number): number {
    if (!Number.isInteger(id) || id < 0) throw new TokenizerError(`byte tokenizer: id ${id} is not a token id (an integer >= 0)`);
    return id;
  }
}

/** GPT-2 BPE tokenizer backed by @huggingface/tokenizers. */
export class BpeTokenizer implements GptTokenizer {
  readonly kind = 'bpe';
  readonly vocabSize: number;

  constructor(private readonly hf: HfTokenizer) {
    this.vocabSize = hf.get_vocab(true).size;
  }

  encode(text: string): number[] {
    return this.hf.encode(text, { add_special_tokens: false }).ids;
  }

  decode(ids: readonly number[]): string {
    if (ids.length === 0) return '';
    return this.hf.decode([...ids], { skip_special_tokens: false, clean_up_tokenization_spaces: false });
  }

  createDecoder(): IncrementalDecoder {
    // NOTE: BPE tokens can end mid-character; re-decode the pending ids and hold back a trailing
    // U+FFFD until the character completes. Pending ids reset at each emitted boundary.
    let pending: number[] = [];
    return {
      push: (ids) => {
        pending.push(...ids);
        const text = this.decode(pending);
        if (text.endsWith('\uFFFD')) return '';
        pending = [];
        return text;
      },
      flush: () => {
        const text = this.decode(pending);
        pending = [];
        return text;
      },
    };
  }
}

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new TokenizerError(`${path}: cannot read JSON (${(e as Error).message})`);
  }
}

/** Builds a GPT-2 tokenizer.json object from vocab.json and merges.txt contents. */
export function gpt2TokenizerJson(vocab: Record<string, number>, merges: string[]): object {
  return {
    version: '1.0',
    added_tokens: [],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false, vocab, merges },
  };
}

/** Loads the checkpoint directory's tokenizer: tokenizer.json, else vocab.json + merges.txt, else null. */
export function loadTokenizerFromDir(dir: string): GptTokenizer | null {
  const tjPath = join(dir, 'tokenizer.json');
  const configPath = join(dir, 'tokenizer_config.json');
  const config = existsSync(configPath) ? readJson(configPath) : {};
  if (existsSync(tjPath)) return createBpe(readJson(tjPath), config, tjPath);
  const vocabPath = join(dir, 'vocab.json');
  const mergesPath = join(dir, 'merges.txt');
  if (existsSync(vocabPath) && existsSync(mergesPath)) {
    const merges = readFileSync(mergesPath, 'utf8').split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#version'));
    return createBpe(gpt2TokenizerJson(readJson(vocabPath) as Record<string, number>, merges), config, vocabPath);
  }
  if (existsSync(vocabPath) !== existsSync(mergesPath)) {
    throw new TokenizerError(`${dir}: found only one of vocab.json and merges.txt; a GPT-2 BPE tokenizer needs both`);
  }
  return null;
}

function createBpe(json: unknown, config: unknown, source: string): BpeTokenizer {
  try {
    return new BpeTokenizer(new HfTokenizer(json as object, config as object));
  } catch (e) {
    throw new TokenizerError(`${source}: not a usable tokenizer (${(e as Error).message})`);
  }
}
