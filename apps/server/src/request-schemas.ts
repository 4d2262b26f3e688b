/**
 * Request bodies of the OpenAI-compatible endpoints as zod schemas. Objects are strict: an
 * unknown field is an error naming it. OpenAI fields Baton does not implement are accepted only
 * at their neutral value (`n: 1`, penalties 0, `logprobs: null`...), so a client that sends the
 * defaults explicitly still works and one that relies on them hears about it.
 *
 * Invariant: a parsed body has the right types and ranges; limits that depend on the model
 * (context length, vocabulary) are checked by the engine's `validateRequest`.
 */
import { z } from 'zod';

const UINT32_MAX = 0xffff_ffff;

/** A field Baton accepts only at its neutral value. */
function neutral<T extends string | number | boolean>(value: T) {
  return z.literal(value, { error: `is not supported by Baton (only ${JSON.stringify(value)} is accepted)` }).nullable().optional();
}

const stop = z
  .union([z.string().min(1), z.array(z.string().min(1)).max(4)], { error: 'must be a non-empty string or an array of at most 4 non-empty strings' })
  .nullable()
  .optional();

/** Sampling and streaming fields shared by both endpoints. */
const common = {
  model: z.string().min(1),
  temperature: z.number().min(0).max(2).nullable().optional(),
  top_p: z.number().gt(0).max(1).nullable().optional(),
  seed: z.number().int().min(0).max(UINT32_MAX).nullable().optional(),
  stop,
  stream: z.boolean().nullable().optional(),
  stream_options: z.strictObject({ include_usage: z.boolean().optional() }).nullable().optional(),
  max_tokens: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER).nullable().optional(),
  user: z.string().optional(),
  n: neutral(1),
  presence_penalty: neutral(0),
  frequency_penalty: neutral(0),
  logprobs: neutral(false),
};

/** POST /v1/completions. */
export const completionRequestSchema = z.strictObject({
  ...common,
  prompt: z.union([z.string(), z.array(z.number())], { error: 'must be a string or an array of token ids (batched prompts are not supported)' }),
  echo: neutral(false),
  best_of: neutral(1),
  suffix: z.null({ error: 'is not supported by Baton' }).optional(),
});

/** A parsed completion request. */
export type CompletionRequest = z.infer<typeof completionRequestSchema>;

const textPart = z.strictObject({ type: z.literal('text', { error: 'only text content parts are supported' }), text: z.string() });

/** One chat message (`developer` is treated as `system`). */
const chatMessage = z.strictObject({
  role: z.enum(['system', 'developer', 'user', 'assistant']),
  content: z.union([z.string(), z.array(textPart)], { error: 'must be a string or an array of text parts' }),
  name: z.string().optional(),
});

/** POST /v1/chat/completions. */
export const chatRequestSchema = z.strictObject({
  ...common,
  messages: z.array(chatMessage).min(1),
  max_completion_tokens: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER).nullable().optional(),
});

/** A parsed chat request. */
export type ChatRequest = z.infer<typeof chatRequestSchema>;

/** A parsed chat message. */
export type ChatMessage = ChatRequest['messages'][number];
