/**
 * POST /v1/completions: validates the body (zod), turns it into an engine request and answers
 * with an OpenAI `text_completion` object, or its SSE chunks when `stream` is true.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { GenerateRequest } from '@baton/engine';
import { respondWithGeneration, type ResponderDeps, type ResponseFormat, type Usage } from './generation-responder.js';
import { completionRequestSchema, type CompletionRequest } from './request-schemas.js';
import { describeIssue } from './issue-message.js';
import { checkModel, samplingFields, stopList } from './request-mapping.js';

/** Registers the route. */
export function registerCompletionRoute(app: FastifyInstance, deps: ResponderDeps & { modelName: string }): void {
  app.post('/v1/completions', async (req, reply) => {
    const body = parseBody(deps, req.body);
    const stopStrings = stopList(body.stop);
    const request: GenerateRequest = { prompt: body.prompt, ...samplingFields(body, body.max_tokens), stop: stopStrings };
    const job = {
      endpoint: 'completions' as const,
      request,
      stream: body.stream === true,
      includeUsage: body.stream_options?.include_usage === true,
      format: completionFormat(deps.modelName),
      stopStrings,
    };
    await respondWithGeneration(deps, job, reply);
  });
}

function parseBody(deps: ResponderDeps & { modelName: string }, raw: unknown): CompletionRequest {
  try {
    const body = completionRequestSchema.parse(raw, { error: describeIssue });
    checkModel(body.model, deps.modelName);
    return body;
  } catch (e) {
    deps.metrics.count('completions', 'invalid');
    throw e;
  }
}

/** The OpenAI completion object and its chunks. */
function completionFormat(model: string): ResponseFormat {
  const id = `cmpl-${randomUUID()}`;
  const created = Math.floor(Date.now() / 1000);
  const base = { id, object: 'text_completion', created, model };
  const choice = (text: string, finish_reason: string | null) => ({ text, index: 0, logprobs: null, finish_reason });
  return {
    complete: (text, finish, usage: Usage) => ({ ...base, choices: [choice(text, finish)], usage }),
    preamble: () => [],
    delta: (text) => ({ ...base, choices: [choice(text, null)] }),
    finish: (finish) => ({ ...base, choices: [choice('', finish)] }),
    usage: (usage) => ({ ...base, choices: [], usage }),
  };
}
