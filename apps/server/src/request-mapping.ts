/**
 * From a parsed OpenAI body to the engine's request fields, shared by both endpoints.
 * Defaults follow OpenAI: temperature 1, top_p 1; `max_tokens` absent lets the engine choose
 * (16, or less when the context is nearly full).
 */
import type { GenerateRequest } from '@baton/engine';
import { ApiError } from './openai-error.js';

/** Fields common to both request bodies. */
export interface SamplingBody {
  temperature?: number | null;
  top_p?: number | null;
  seed?: number | null;
}

/** Engine sampling fields of a body. */
export function samplingFields(body: SamplingBody, maxTokens: number | null | undefined): Omit<GenerateRequest, 'prompt'> {
  const out: Omit<GenerateRequest, 'prompt'> = { temperature: body.temperature ?? 1, topP: body.top_p ?? 1 };
  if (maxTokens != null) out.maxTokens = maxTokens;
  if (body.seed != null) out.seed = body.seed;
  return out;
}

/** OpenAI `stop` (string, array or null) as a list. */
export function stopList(stop: string | string[] | null | undefined): string[] {
  if (stop == null) return [];
  return typeof stop === 'string' ? [stop] : stop;
}

/** 404 `model_not_found` (OpenAI's answer) unless `requested` is the served model. */
export function checkModel(requested: string, served: string): void {
  if (requested !== served) {
    throw new ApiError({
      status: 404, type: 'invalid_request_error', param: 'model', code: 'model_not_found',
      message: `model: "${requested}" is not served here; this server serves "${served}"`,
    });
  }
}
