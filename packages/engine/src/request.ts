/**
 * The generate request as callers write it, and its validation into a normalized request.
 *
 * Invariants of a {@link NormalizedRequest}: the prompt is non-empty token ids inside the vocab;
 * `promptIds.length + maxTokens <= maxContext`; `topK` is null or in [1, vocabSize]; every optional
 * knob has an explicit value or null. Only the request's own properties count: a field inherited
 * through the prototype is an error, not a value, and each field is read exactly once.
 * Tokenization is not done here: a string prompt needs the caller's `encode` function.
 */
import { InvalidRequestError } from './errors.js';

/** A request as passed to `engine.generate()`. */
export interface GenerateRequest {
  /** Text (needs an `encode` function at validation) or already-tokenized ids. */
  prompt: string | readonly number[];
  /** Maximum number of output tokens. Default: `min(limits.defaultMaxTokens, room left in context)`. */
  maxTokens?: number;
  /** Sampling temperature; 0 means greedy. Default 0. */
  temperature?: number;
  /** Keep only the k most likely tokens; omitted or null disables it. */
  topK?: number | null;
  /** Nucleus sampling mass in (0, 1]. Default 1. */
  topP?: number;
  /** Sampling seed (uint32); omitted or null lets the engine choose. */
  seed?: number | null;
  /** Stop strings, or stop token ids (not mixed). */
  stop?: readonly string[] | readonly number[];
  /** Cancels the request at once and frees its KV. */
  signal?: AbortSignal;
  /** Caller-chosen id; generated when omitted. */
  id?: string;
  /** Conversation id: with `routing: 'session'` every request of one session goes to the same prefill actor. */
  session?: string;
}

/** A validated request with every default filled in. */
export interface NormalizedRequest {
  id: string;
  promptIds: number[];
  /** The prompt text when the request gave text, else null. */
  promptText: string | null;
  maxTokens: number;
  temperature: number;
  topK: number | null;
  topP: number;
  seed: number | null;
  stopStrings: string[];
  stopTokenIds: number[];
  signal: AbortSignal | null;
  /** The conversation this request belongs to (absent when none was given). */
  session?: string;
}

/** Limits a request is validated against (from the model config and engine options). */
export interface RequestLimits {
  vocabSize: number;
  /** Context length: prompt plus output tokens must fit. */
  maxContext: number;
  /** Largest `maxTokens` a request may ask for. */
  maxTokensLimit: number;
  /** `maxTokens` when the request gives none (clamped to the room left). Default 16. */
  defaultMaxTokens?: number;
  /** The model's end-of-text id: every request also stops on it. */
  eosTokenId?: number | null;
}

/** Most tokens one request may ask for, whatever the context allows. */
const MAX_TOKENS_LIMIT = 4096;

/** The limits requests to a model of this shape are validated against. */
export function limitsFor(config: { vocabSize: number; nPositions: number; eosTokenId?: number | null }): RequestLimits {
  return { vocabSize: config.vocabSize, maxContext: config.nPositions, maxTokensLimit: Math.min(MAX_TOKENS_LIMIT, config.nPositions), eosTokenId: config.eosTokenId ?? null };
}

/** Collaborators of {@link validateRequest}. */
export interface ValidateRequestDeps {
  /** Tokenizer for text prompts (stop strings stay text; they are matched on output text). */
  encode?: (text: string) => readonly number[];
  /** Id generator for requests without an id. Default: `crypto.randomUUID()`. */
  generateId?: () => string;
}

const KNOWN_FIELDS = new Set(['prompt', 'maxTokens', 'temperature', 'topK', 'topP', 'seed', 'stop', 'signal', 'id', 'session']);
const MAX_TEMPERATURE = 100;
const MAX_STOP_ENTRIES = 16;
const MAX_ID_LENGTH = 256;
const UINT32_MAX = 0xffff_ffff;

/**
 * Checks a request from an untrusted caller and fills in defaults.
 * @throws {InvalidRequestError} naming the first offending field (`prompt`, `prompt[7]`, `topP`, ...).
 */
export function validateRequest(input: unknown, limits: RequestLimits, deps: ValidateRequestDeps = {}): NormalizedRequest {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new InvalidRequestError('request', `must be an object, got ${typeName(input)}`);
  }
  const r = ownFields(input);
  const { promptIds, promptText } = validatePrompt(r.prompt, limits, deps);
  const room = limits.maxContext - promptIds.length;
  return {
    id: validateId(r.id, deps),
    promptIds,
    promptText,
    maxTokens: validateMaxTokens(r.maxTokens, room, limits),
    temperature: validateTemperature(r.temperature),
    topK: validateTopK(r.topK, limits.vocabSize),
    topP: validateTopP(r.topP),
    seed: validateSeed(r.seed),
    ...withEos(validateStop(r.stop, limits), limits.eosTokenId ?? null),
    signal: validateSignal(r.signal),
    ...(r.session === undefined ? {} : { session: validateSession(r.session) }),
  };
}

function validateSession(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_ID_LENGTH) {
    throw new InvalidRequestError('session', `must be a non-empty string of at most ${MAX_ID_LENGTH} characters, got ${show(value)}`);
  }
  return value;
}

/**
 * The request's own fields, each read once (a getter runs once; later checks see that value).
 * NOTE: `Object.create({ prompt: 'x' })` has no own `prompt`, yet `r.prompt` would find it: an
 * inherited known field is rejected by name instead of silently used.
 */
function ownFields(input: object): Partial<Record<string, unknown>> {
  const out: Partial<Record<string, unknown>> = {};
  for (const key of Object.getOwnPropertyNames(input)) {
    if (!KNOWN_FIELDS.has(key)) throw new InvalidRequestError(key, 'unknown field');
    out[key] = (input as Record<string, unknown>)[key];
  }
  for (const key of KNOWN_FIELDS) {
    if (!(key in out) && key in input) {
      throw new InvalidRequestError(key, 'is inherited through the prototype; pass it as an own property of the request');
    }
  }
  return out;
}

function validatePrompt(value: unknown, limits: RequestLimits, deps: ValidateRequestDeps) {
  let ids: readonly unknown[];
  let promptText: string | null = null;
  if (typeof value === 'string') {
    if (deps.encode === undefined) {
      throw new InvalidRequestError('prompt', 'a text prompt needs a tokenizer; pass token ids or an encode function');
    }
    promptText = value;
    ids = deps.encode(value);
  } else if (Array.isArray(value)) {
    ids = value;
  } else {
    throw new InvalidRequestError('prompt', `must be a string or an array of token ids, got ${typeName(value)}`);
  }
  if (ids.length === 0) throw new InvalidRequestError('prompt', 'must contain at least one token');
  if (ids.length >= limits.maxContext) {
    throw new InvalidRequestError(
      'prompt',
      `has ${ids.length} tokens; the context holds ${limits.maxContext}, leaving no room for output`,
    );
  }
  // NOTE: an index loop, not forEach: forEach skips the holes of a sparse array ([1, , 3]).
  for (let i = 0; i < ids.length; i++) checkTokenId(ids[i], `prompt[${i}]`, limits.vocabSize);
  return { promptIds: [...(ids as number[])], promptText };
}

function checkTokenId(id: unknown, field: string, vocabSize: number): void {
  if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= vocabSize) {
    throw new InvalidRequestError(field, `must be a token id in [0, ${vocabSize}), got ${show(id)}`);
  }
}

function validateMaxTokens(value: unknown, room: number, limits: RequestLimits): number {
  if (value === undefined) return Math.max(1, Math.min(limits.defaultMaxTokens ?? 16, room, limits.maxTokensLimit));
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new InvalidRequestError('maxTokens', `must be a positive integer, got ${show(value)}`);
  }
  if (value > limits.maxTokensLimit) {
    throw new InvalidRequestError('maxTokens', `must be at most ${limits.maxTokensLimit}, got ${value}`);
  }
  if (value > room) {
    throw new InvalidRequestError('maxTokens', `is ${value} but only ${room} tokens of context remain after the prompt`);
  }
  return value;
}

function validateTemperature(value: unknown): number {
  if (value === undefined) return 0;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > MAX_TEMPERATURE) {
    throw new InvalidRequestError('temperature', `must be a finite number in [0, ${MAX_TEMPERATURE}], got ${show(value)}`);
  }
  return value;
}

function validateTopK(value: unknown, vocabSize: number): number | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > vocabSize) {
    throw new InvalidRequestError('topK', `must be an integer in [1, ${vocabSize}] (the vocabulary size) or null, got ${show(value)}`);
  }
  return value;
}

function validateTopP(value: unknown): number {
  if (value === undefined) return 1;
  if (typeof value !== 'number' || !(value > 0 && value <= 1)) {
    throw new InvalidRequestError('topP', `must be a number in (0, 1], got ${show(value)}`);
  }
  return value;
}

function validateSeed(value: unknown): number | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > UINT32_MAX) {
    throw new InvalidRequestError('seed', `must be an integer in [0, ${UINT32_MAX}] or null, got ${show(value)}`);
  }
  return value;
}

function validateStop(value: unknown, limits: RequestLimits): { stopStrings: string[]; stopTokenIds: number[] } {
  if (value === undefined) return { stopStrings: [], stopTokenIds: [] };
  if (!Array.isArray(value)) throw new InvalidRequestError('stop', `must be an array, got ${typeName(value)}`);
  if (value.length > MAX_STOP_ENTRIES) {
    throw new InvalidRequestError('stop', `has ${value.length} entries; at most ${MAX_STOP_ENTRIES} are allowed`);
  }
  if (value.length === 0) return { stopStrings: [], stopTokenIds: [] };
  const entries: readonly unknown[] = value;
  if (typeof entries[0] === 'string') {
    for (let i = 0; i < entries.length; i++) {
      const s = entries[i];
      if (typeof s !== 'string' || s.length === 0) {
        throw new InvalidRequestError(`stop[${i}]`, `must be a non-empty string (entries cannot mix strings and ids), got ${show(s)}`);
      }
    }
    return { stopStrings: [...(entries as string[])], stopTokenIds: [] };
  }
  for (let i = 0; i < entries.length; i++) checkTokenId(entries[i], `stop[${i}]`, limits.vocabSize);
  return { stopStrings: [], stopTokenIds: [...(value as number[])] };
}

/** NOTE: the model's end-of-text id ends every request (a model trained with it ends its outputs there). */
function withEos(stop: { stopStrings: string[]; stopTokenIds: number[] }, eos: number | null): { stopStrings: string[]; stopTokenIds: number[] } {
  if (eos === null || stop.stopTokenIds.includes(eos)) return stop;
  return { ...stop, stopTokenIds: [...stop.stopTokenIds, eos] };
}

function validateSignal(value: unknown): AbortSignal | null {
  if (value === undefined) return null;
  if (!(value instanceof AbortSignal)) throw new InvalidRequestError('signal', `must be an AbortSignal, got ${typeName(value)}`);
  return value;
}

function validateId(value: unknown, deps: ValidateRequestDeps): string {
  if (value === undefined) return deps.generateId?.() ?? crypto.randomUUID();
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_ID_LENGTH) {
    throw new InvalidRequestError('id', `must be a non-empty string of at most ${MAX_ID_LENGTH} characters, got ${show(value)}`);
  }
  return value;
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

function show(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) return String(value);
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  return typeName(value);
}
