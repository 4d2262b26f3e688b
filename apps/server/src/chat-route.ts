/**
 * POST /v1/chat/completions: renders the messages with the tiny model's chat template (see
 * chat-template.ts), adds the end-of-turn marker to the stop strings, and answers with an OpenAI
 * `chat.completion` object, or `chat.completion.chunk` SSE events when `stream` is true.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { GenerateRequest } from '@baton/engine';
import { CHAT_END_MARKER, renderChatPrompt } from './chat-template.js';
import { respondWithGeneration, type ResponderDeps, type ResponseFormat, type Usage } from './generation-responder.js';
import { chatRequestSchema, type ChatRequest } from './request-schemas.js';
import { describeIssue } from './issue-message.js';
import { checkModel, samplingFields, stopList } from './request-mapping.js';

/** Registers the route. */
export function registerChatRoute(app: FastifyInstance, deps: ResponderDeps & { modelName: string }): void {
  app.post('/v1/chat/completions', async (req, reply) => {
    const body = parseBody(deps, req.body);
    const stopStrings = [...stopList(body.stop), CHAT_END_MARKER];
    const maxTokens = body.max_completion_tokens ?? body.max_tokens;
    const request: GenerateRequest = { prompt: renderChatPrompt(body.messages), ...samplingFields(body, maxTokens), stop: stopStrings };
    const job = {
      endpoint: 'chat' as const,
      request,
      stream: body.stream === true,
      includeUsage: body.stream_options?.include_usage === true,
      format: chatFormat(deps.modelName),
      stopStrings,
      errorNames: { promptParam: 'messages', maxTokensParam: body.max_completion_tokens == null ? 'max_tokens' : 'max_completion_tokens' },
    };
    await respondWithGeneration(deps, job, reply);
  });
}

function parseBody(deps: ResponderDeps & { modelName: string }, raw: unknown): ChatRequest {
  try {
    const body = chatRequestSchema.parse(raw, { error: describeIssue });
    checkModel(body.model, deps.modelName);
    return body;
  } catch (e) {
    deps.metrics.count('chat', 'invalid');
    throw e;
  }
}

/** The OpenAI chat completion object and its chunks. */
function chatFormat(model: string): ResponseFormat {
  const id = `chatcmpl-${randomUUID()}`;
  const created = Math.floor(Date.now() / 1000);
  const chunk = { id, object: 'chat.completion.chunk', created, model };
  const delta = (d: Record<string, string>, finish_reason: string | null) => ({ ...chunk, choices: [{ index: 0, delta: d, logprobs: null, finish_reason }] });
  return {
    complete: (text, finish, usage: Usage) => ({
      id, object: 'chat.completion', created, model,
      choices: [{ index: 0, message: { role: 'assistant', content: text, refusal: null }, logprobs: null, finish_reason: finish }],
      usage,
    }),
    preamble: () => [delta({ role: 'assistant', content: '' }, null)],
    delta: (text) => delta({ content: text }, null),
    finish: (finish) => delta({}, finish),
    usage: (usage) => ({ ...chunk, choices: [], usage }),
  };
}
