/**
 * Runs one engine generation for an HTTP request and answers it, streamed (SSE) or not, in the
 * format an endpoint supplies. Shared by /v1/completions and /v1/chat/completions.
 *
 * Invariants: a client that disconnects aborts its generation at once (the engine frees its KV);
 * a stream's headers are sent only after the engine produced something, so a refusal (overload,
 * shutdown) is still a proper 429/503 rather than an error inside a 200 stream; every request is
 * counted in the metrics exactly once.
 */
import type { FastifyReply } from 'fastify';
import type { FinishReason, GenerateRequest, GenerationResult, TokenStreamEvent } from '@baton/engine';
import { ApiError, shuttingDown, toApiError, type ToApiErrorOptions } from './openai-error.js';
import type { Endpoint, RequestOutcome, ServerMetrics } from './server-metrics.js';
import type { ServingEngine } from './serving-engine.js';
import { SseWriter } from './sse-writer.js';
import { StopHoldback } from './stop-holdback.js';

type GenerationEvent = TokenStreamEvent<GenerationResult>;

/** OpenAI's token counts. */
export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

/** OpenAI finish reasons Baton produces. */
export type OpenAiFinishReason = 'stop' | 'length';

/** How an endpoint shapes its responses. */
export interface ResponseFormat {
  /** The non-streaming response body. */
  complete(text: string, finishReason: OpenAiFinishReason, usage: Usage): unknown;
  /** Chunks sent before the first token (chat: the role delta). */
  preamble(): unknown[];
  /** A chunk carrying a text delta. */
  delta(text: string): unknown;
  /** The chunk that carries the finish reason; with `usage` when the client asked for it. */
  finish(finishReason: OpenAiFinishReason): unknown;
  /** The usage-only chunk (`stream_options.include_usage`). */
  usage(usage: Usage): unknown;
}

/** One request to serve. */
export interface GenerationJob {
  endpoint: Endpoint;
  request: GenerateRequest;
  stream: boolean;
  includeUsage: boolean;
  format: ResponseFormat;
  /** The request's stop strings: streamed text never shows them. */
  stopStrings: readonly string[];
  errorNames?: ToApiErrorOptions;
}

/** What the responder needs from the server. */
export interface ResponderDeps {
  engine: ServingEngine;
  metrics: ServerMetrics;
  /** True once shutdown began: an aborted request then answers 503. */
  closing: () => boolean;
}

/** Serves `job` on `reply`. Throws ApiError for failures that happen before any byte was sent. */
export async function respondWithGeneration(deps: ResponderDeps, job: GenerationJob, reply: FastifyReply): Promise<void> {
  const disconnect = new AbortController();
  const res = reply.raw;
  res.on('close', () => {
    if (!res.writableFinished) disconnect.abort();
  });
  let iterator: AsyncIterator<GenerationEvent>;
  let first: IteratorResult<GenerationEvent>;
  try {
    iterator = deps.engine.generate({ ...job.request, signal: disconnect.signal })[Symbol.asyncIterator]();
    first = await iterator.next();
  } catch (e) {
    const error = toApiError(e, job.errorNames);
    deps.metrics.count(job.endpoint, refusalOutcome(error));
    throw error;
  }
  const events = prepend(first, iterator);
  if (job.stream) return streamResponse(deps, job, reply, events);
  for await (const event of events) {
    if (event.type === 'final') return answerFinal(deps, job, reply, event.result);
  }
}

async function* prepend<T>(first: IteratorResult<T>, rest: AsyncIterator<T>): AsyncGenerator<T> {
  if (first.done === true) return;
  yield first.value;
  for (let next = await rest.next(); next.done !== true; next = await rest.next()) yield next.value;
}

function answerFinal(deps: ResponderDeps, job: GenerationJob, reply: FastifyReply, result: GenerationResult): void {
  record(deps, job.endpoint, result);
  const failure = failureOf(deps, result);
  if (failure !== null) throw failure;
  void reply.code(200).send(job.format.complete(result.text, openAiFinish(result.finishReason), usageOf(result)));
}

async function streamResponse(deps: ResponderDeps, job: GenerationJob, reply: FastifyReply, events: AsyncGenerator<GenerationEvent>): Promise<void> {
  reply.hijack();
  const sse = new SseWriter(reply.raw);
  sse.open();
  for (const chunk of job.format.preamble()) sse.send(chunk);
  const holdback = new StopHoldback(job.stopStrings);
  const sendText = (text: string): void => {
    if (text !== '') sse.send(job.format.delta(text));
  };
  try {
    for await (const event of events) {
      if (event.type !== 'final') {
        sendText(holdback.push(event.text));
        continue;
      }
      const result = event.result;
      sendText(holdback.finish(result.text));
      record(deps, job.endpoint, result);
      const failure = failureOf(deps, result);
      if (failure !== null) sse.send(failure.body());
      else {
        sse.send(job.format.finish(openAiFinish(result.finishReason)));
        if (job.includeUsage) sse.send(job.format.usage(usageOf(result)));
      }
    }
  } catch (e) {
    // NOTE: the stream failed after headers were sent; the error travels as an SSE error event.
    deps.metrics.count(job.endpoint, 'error');
    sse.send(toApiError(e, job.errorNames).body());
  } finally {
    sse.done();
  }
}


function record(deps: ResponderDeps, endpoint: Endpoint, result: GenerationResult): void {
  deps.metrics.count(endpoint, result.finishReason);
  deps.metrics.observe(result.metrics);
}

/** An aborted or failed generation as the error to answer (null when it completed). */
function failureOf(deps: ResponderDeps, result: GenerationResult): ApiError | null {
  if (result.finishReason === 'error') return toApiError(result.error);
  if (result.finishReason === 'abort') {
    return deps.closing() ? shuttingDown('the server shut down before the request finished') : new ApiError({ status: 499, type: 'aborted', message: 'request aborted' });
  }
  return null;
}

function refusalOutcome(error: ApiError): RequestOutcome {
  if (error.status === 429) return 'overloaded';
  if (error.status === 503) return 'unavailable';
  if (error.status < 500) return 'invalid';
  return 'error';
}

/** NOTE: 'abort' and 'error' never reach a success body (failureOf answers them). */
function openAiFinish(reason: FinishReason): OpenAiFinishReason {
  return reason === 'length' ? 'length' : 'stop';
}

function usageOf(result: GenerationResult): Usage {
  const prompt = result.timing.promptTokens;
  return { prompt_tokens: prompt, completion_tokens: result.ids.length, total_tokens: prompt + result.ids.length };
}
