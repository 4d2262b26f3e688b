/**
 * One run of the demo: submits each request when it arrives, follows its token stream, and polls
 * `engine.stats()` for the live view. Invariants: polls never overlap (an actor busy in a long
 * step answers late, and the next poll waits for it); a frame pairs the stats with the requests
 * as they were when the stats were asked for, so every token it shows was produced by a step its
 * actors already count; a request's TTFT is known from its first token on; every request ends in
 * `done`, `aborted` (Ctrl-C) or `failed`, and the session resolves only after all have, with a
 * final stats snapshot.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Engine, EngineStats, GenerationResult } from '@baton/engine';
import type { GptTokenizer } from '@baton/model';
import type { DemoRequest } from './demo-workload.js';

/** Where a request is: not arrived yet, queued (no token yet), streaming, or how it ended. */
export type RequestState = 'waiting' | 'queued' | 'streaming' | 'done' | 'aborted' | 'failed';

/** Whether a request has ended. */
export function hasEnded(state: RequestState): boolean {
  return state === 'done' || state === 'aborted' || state === 'failed';
}

/** Live progress of one demo request. */
export interface RequestProgress {
  request: DemoRequest;
  promptTokens: number;
  state: RequestState;
  /** Generated ids so far. */
  ids: number[];
  /** What those ids display as, in UTF-8 bytes (an end-of-text id adds none). */
  bytes: number[];
  /** Time to first token, ms: set when the first token arrives (the result's TTFT once it ends). */
  ttftMs: number | null;
  result: GenerationResult | null;
  /** Why it failed (refused, actor error); null otherwise (also when aborted). */
  error: string | null;
}

/** What the views draw. */
export interface DemoSnapshot {
  elapsedMs: number;
  requests: readonly RequestProgress[];
  /** The latest engine stats; null before the first poll answers. */
  stats: EngineStats | null;
}

/** Options of {@link runDemoSession}. */
export interface DemoSessionOptions {
  engine: Engine;
  requests: readonly DemoRequest[];
  encode: (text: string) => readonly number[];
  /** The UTF-8 bytes one generated id displays as (see {@link tokenBytesOf}). */
  tokenBytes: (id: number) => readonly number[];
  /** Pause between stats polls. */
  pollMs: number;
  /** Called after every poll, and once more at the end. */
  onFrame: (snapshot: DemoSnapshot) => void;
  /** Called when a request ends. */
  onRequestEnd?: (progress: RequestProgress, snapshot: DemoSnapshot) => void;
  /** Aborts every request (Ctrl-C). */
  signal: AbortSignal;
}

/** What a finished session returns. */
export interface DemoOutcome {
  requests: RequestProgress[];
  stats: EngineStats;
  elapsedMs: number;
  /** True when the signal aborted the run (Ctrl-C). */
  interrupted: boolean;
}

/**
 * The display bytes of one id under `tokenizer`: a byte id is its byte (a multi-byte character
 * spans several ids, so ids are not decoded one by one); any other id is its decoded text (none
 * for end-of-text, `<|ID|>` for an id past the byte range, a BPE token's characters).
 */
export function tokenBytesOf(tokenizer: GptTokenizer): (id: number) => readonly number[] {
  const utf8 = new TextEncoder();
  return (id) => (tokenizer.kind === 'bytes' && id < 256 ? [id] : Array.from(utf8.encode(tokenizer.decode([id]))));
}

/** Runs the demo's requests through `engine` with live progress callbacks. */
export async function runDemoSession(o: DemoSessionOptions): Promise<DemoOutcome> {
  const started = performance.now();
  const progress: RequestProgress[] = o.requests.map((request) => ({
    request, promptTokens: o.encode(request.prompt).length, state: 'waiting', ids: [], bytes: [], ttftMs: null, result: null, error: null,
  }));
  let stats: EngineStats | null = null;
  const snapshot = (): DemoSnapshot => ({ elapsedMs: performance.now() - started, requests: progress, stats });
  const ended = (p: RequestProgress): void => o.onRequestEnd?.(p, snapshot());
  let running = true;
  const tasks = progress.map((p) => follow(o, p).then(() => ended(p)));
  const all = Promise.all(tasks).finally(() => {
    running = false;
  });
  const poll = async (): Promise<void> => {
    while (running) {
      // NOTE: the requests are copied before the stats are asked for: tokens that arrive while an
      // actor is still answering would otherwise outrun the step counts shown next to them.
      const asked = { elapsedMs: performance.now() - started, requests: progress.map(copyProgress) };
      stats = (await o.engine.stats().catch(() => null)) ?? stats;
      o.onFrame({ ...asked, stats });
      await Promise.race([sleep(o.pollMs), all]);
    }
  };
  await Promise.all([all, poll()]);
  stats = await o.engine.stats();
  o.onFrame(snapshot());
  return { requests: progress, stats, elapsedMs: performance.now() - started, interrupted: o.signal.aborted };
}

/** Submits one request at its arrival time and follows its stream to the end (never rejects). */
async function follow(o: DemoSessionOptions, p: RequestProgress): Promise<void> {
  const r = p.request;
  try {
    await sleep(r.delayMs, undefined, { signal: o.signal });
    p.state = 'queued';
    // NOTE: token times are on the engine's clock, shared by every thread and process of the host.
    const submittedMs = performance.timeOrigin + performance.now();
    const generation = o.engine.generate({
      prompt: r.prompt, maxTokens: r.maxTokens, temperature: 0.9, topK: 64, seed: r.seed, id: r.id, signal: o.signal,
    });
    for await (const event of generation) {
      if (event.type === 'token') {
        if (p.ids.length === 0) p.ttftMs = Math.max(0, event.time - submittedMs);
        p.ids.push(event.id);
        p.bytes.push(...o.tokenBytes(event.id));
        p.state = 'streaming';
      } else {
        p.result = event.result;
      }
    }
    const result = p.result as GenerationResult | null;
    if (result !== null) p.ttftMs = result.metrics.ttftMs ?? p.ttftMs;
    const reason = result?.finishReason ?? null;
    if (reason === 'abort' || (reason === null && o.signal.aborted)) p.state = 'aborted';
    else if (reason === null || reason === 'error') {
      p.state = 'failed';
      p.error = result?.error?.message ?? 'ended without a result';
    } else p.state = 'done';
  } catch (e) {
    if (o.signal.aborted) p.state = 'aborted';
    else {
      p.state = 'failed';
      p.error = (e as Error).message;
    }
  }
}

/** A copy that later tokens do not change. */
function copyProgress(p: RequestProgress): RequestProgress {
  return { ...p, ids: p.ids.slice(), bytes: p.bytes.slice() };
}
