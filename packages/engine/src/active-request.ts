/**
 * ActiveRequest: the main thread's view of one request in flight — it puts tokens from different
 * actors back in order (the first comes from a prefill actor, the rest from a decode actor, over
 * different ports), applies stop strings to the text, records the timing the metrics come from,
 * and ends the caller's stream exactly once.
 *
 * Invariants: token `index` i is delivered only after 0..i-1; a worker's `finished` completes the
 * request only once every token it counted has arrived (errors complete at once); after completion
 * every later message for the request is ignored. A request may run as several attempts (after an
 * actor crash or a failed handoff): each attempt has its own wire id, so messages of a dead attempt
 * are never routed here, and a new attempt resumes after the tokens already delivered.
 */
import { EngineError, type SerializedEngineError, engineErrorFromJSON } from './errors.js';
import type { ClientMsg, TokenItem, WireRequest } from './protocol.js';
import type { NormalizedRequest } from './request.js';
import { requestMetrics, type FinishReason, type RequestMetrics, type RequestTimingRecord } from './request-timing.js';
import { TokenStream, type TextDeltaDecoder, type TokenStreamEvent } from './token-stream.js';

/** The final result of `engine.generate`. */
export interface GenerationResult {
  id: string;
  /** Generated ids (not the prompt). */
  ids: number[];
  /** Generated text (cut before a matched stop string). */
  text: string;
  finishReason: FinishReason;
  /** Set when finishReason is 'error'. */
  error: EngineError | null;
  timing: RequestTimingRecord;
  metrics: RequestMetrics;
}

/** What `engine.generate` returns: an async iterable of token events, then the final event. */
export interface Generation extends AsyncIterable<TokenStreamEvent<GenerationResult>> {
  readonly id: string;
  /** Resolves with the final result (also the last event); rejects if the request was refused. */
  readonly result: Promise<GenerationResult>;
}

/** Collaborators of an ActiveRequest. */
export interface ActiveRequestDeps {
  request: NormalizedRequest;
  arrivalMs: number;
  decoder: TextDeltaDecoder;
  now: () => number;
  /** Tells the serving actors to drop this wire id (an attempt) and free its KV. */
  abortRemote: (wireId: string) => void;
  /** A retryable failure (failed handoff): the engine may start another attempt; false = give up. */
  retry: (error: EngineError) => boolean;
  /** Called once when the request ends (any way). */
  onDone: (result: GenerationResult | null) => void;
}

/** Where the current attempt is placed. */
interface Placement {
  prefill: string | null;
  decode: string | null;
  colocated: string | null;
}

/** One request in flight, on the main thread. */
export class ActiveRequest {
  readonly stream: TokenStream<GenerationResult>;
  readonly #deps: ActiveRequestDeps;
  readonly #ids: number[] = [];
  readonly #times: number[] = [];
  readonly #early = new Map<number, TokenItem>();
  #pendingFinish: Extract<ClientMsg, { type: 'finished' }> | null = null;
  #prefillStartMs: number | null = null;
  #kv: { startMs: number; endMs: number } | null = null;
  #done = false;
  #attempt = 0;
  #placement: Placement = { prefill: null, decode: null, colocated: null };
  /** Tokens delivered when the current attempt started. */
  #attemptStart = 0;
  #lastProgressMs: number;
  /** When the current attempt was queued, while it waits to start (no prefill began, nothing streamed); else null. */
  #queuedSinceMs: number | null;
  /** True while the attempt waits for a crashed actor to come back (the stall watchdog skips it). */
  parked = false;
  #waitingForKv = false;

  constructor(deps: ActiveRequestDeps) {
    this.#deps = deps;
    this.#lastProgressMs = deps.arrivalMs;
    this.#queuedSinceMs = deps.arrivalMs;
    this.stream = new TokenStream<GenerationResult>({
      decoder: deps.decoder,
      capacity: deps.request.maxTokens + 2,
      requestId: deps.request.id,
      onCancel: () => this.#end(null, () => deps.abortRemote(this.wireId)),
    });
  }

  get id(): string {
    return this.#deps.request.id;
  }

  get done(): boolean {
    return this.#done;
  }

  /** When this request last made progress (arrival, placement, prefill start, a token). */
  get lastProgressMs(): number {
    return this.#lastProgressMs;
  }

  /**
   * True while the attempt was preempted and waits for its KV to be recomputed (until its next
   * token): it waits for room in a full pool, it is not stalled (the stall watchdog skips it; the
   * decode side bounds that wait itself).
   */
  get waitingForKv(): boolean {
    return this.#waitingForKv;
  }

  /**
   * When the current attempt was queued, while it still waits to start: no prefill began and no
   * token arrived. Null once it started, and for an attempt that resumes a stream (it keeps its place).
   */
  get queuedSinceMs(): number | null {
    return this.#queuedSinceMs;
  }

  /** The current attempt's id on the wire (the request id for the first attempt). */
  get wireId(): string {
    return this.#attempt === 0 ? this.id : `${this.id}~${this.#attempt}`;
  }

  /** Attempts started after the first. */
  get retries(): number {
    return this.#attempt;
  }

  /** The first attempt's wire form. */
  firstAttempt(arrivalMs: number): WireRequest {
    const r = this.#deps.request;
    return {
      id: this.wireId, promptIds: r.promptIds, maxTokens: r.maxTokens, temperature: r.temperature, topK: r.topK ?? 0,
      topP: r.topP, seed: r.seed ?? 0, stopIds: r.stopTokenIds, arrivalMs, emitted: 0,
      ...(r.session === undefined ? {} : { session: r.session }),
    };
  }

  /**
   * Starts a new attempt that resumes after the tokens delivered so far: the prompt is extended by
   * them, so the next token continues the stream with nothing duplicated or missing.
   */
  nextAttempt(): WireRequest {
    const first = this.firstAttempt(this.#deps.arrivalMs);
    this.#attempt += 1;
    this.#early.clear();
    this.#pendingFinish = null;
    this.#placement = { prefill: null, decode: null, colocated: null };
    this.#attemptStart = this.#ids.length;
    this.#lastProgressMs = this.#deps.now();
    this.#queuedSinceMs = this.#ids.length === 0 ? this.#lastProgressMs : null;
    this.parked = false;
    this.#waitingForKv = false;
    return { ...first, id: this.wireId, promptIds: [...first.promptIds, ...this.#ids], emitted: this.#ids.length };
  }

  /** The actor that produces token `index` of the current attempt (its first comes from prefill), or null when not placed yet. */
  producerOf(index: number): string | null {
    const p = this.#placement;
    if (p.colocated !== null) return p.colocated;
    return index === this.#attemptStart ? p.prefill : p.decode;
  }

  /** True when actor `name` going down loses this request's current attempt. */
  dependsOn(name: string): boolean {
    const p = this.#placement;
    if (p.colocated === name || p.decode === name) return true;
    // NOTE: once the attempt's first token arrived, its prefill actor has handed it off.
    return p.prefill === name && this.#ids.length === this.#attemptStart;
  }

  /** The public face handed to the caller. */
  generation(): Generation {
    const stream = this.stream;
    return { id: this.id, result: stream.result, [Symbol.asyncIterator]: () => stream[Symbol.asyncIterator]() };
  }

  /** Routes one client message about this request. */
  receive(msg: ClientMsg): void {
    if (this.#done) return;
    this.#lastProgressMs = this.#deps.now();
    if (msg.type === 'tokens') throw new EngineError('tokens are routed per item');
    if (msg.type === 'prefillStarted') {
      this.#prefillStartMs ??= msg.time;
      this.#queuedSinceMs = null;
    }
    else if (msg.type === 'kvTransfer') this.#kv = { startMs: msg.startMs, endMs: msg.endMs };
    else if (msg.type === 'kvWait') this.#waitingForKv = true;
    else if (msg.type === 'placed') this.#placement[msg.role] = msg.actor;
    else this.#finished(msg);
  }

  /** One token, possibly out of order. */
  token(item: TokenItem): void {
    if (this.#done) return;
    this.#lastProgressMs = this.#deps.now();
    this.#queuedSinceMs = null;
    this.#waitingForKv = false;
    this.#early.set(item.index, item);
    for (let next = this.#early.get(this.#ids.length); next !== undefined; next = this.#early.get(this.#ids.length)) {
      this.#early.delete(next.index);
      this.#ids.push(next.id);
      this.#times.push(next.time);
      this.stream.pushToken(next.id, next.time);
      if (this.#stopStringHit()) return this.complete('stop', null, true);
    }
    if (this.#pendingFinish !== null) this.#finished(this.#pendingFinish);
  }

  /** Ends the request now with `reason`; `remote` also frees it in the actors. */
  complete(reason: FinishReason, error: EngineError | null, remote: boolean): void {
    const wireId = this.wireId;
    this.#end(this.#result(reason, error), () => {
      if (remote) this.#deps.abortRemote(wireId);
    });
  }

  /**
   * The request was refused (overload, closed engine): the stream and `result` reject. A request
   * that already streamed tokens (a later attempt refused) ends with 'error' instead.
   */
  refuse(error: unknown): void {
    if (this.#ids.length > 0) {
      const e = error instanceof EngineError ? error : new EngineError(String(error));
      this.complete('error', e, false);
      return;
    }
    this.#end(null, () => this.stream.fail(error));
  }

  #finished(msg: Extract<ClientMsg, { type: 'finished' }>): void {
    if (msg.reason !== 'error' && this.#ids.length < msg.outputTokens) {
      this.#pendingFinish = msg;
      return;
    }
    const error = msg.error === null ? null : engineErrorFromJSON(msg.error as SerializedEngineError);
    if (error?.code === 'HANDOFF_FAILED' && this.#deps.retry(error)) return;
    this.complete(msg.reason, error, false);
  }

  #stopStringHit(): boolean {
    const stops = this.#deps.request.stopStrings;
    return stops.length > 0 && stops.some((s) => this.stream.text.includes(s));
  }

  #end(result: GenerationResult | null, effect: () => void): void {
    if (this.#done) return;
    this.#done = true;
    effect();
    if (result !== null) this.stream.finish(result);
    this.#deps.onDone(result);
  }

  #result(reason: FinishReason, error: EngineError | null): GenerationResult {
    const r = this.#deps.request;
    const finishMs = Math.max(this.#deps.now(), this.#times[this.#times.length - 1] ?? 0);
    const timing: RequestTimingRecord = {
      id: r.id,
      promptTokens: r.promptIds.length,
      arrivalMs: this.#deps.arrivalMs,
      prefillStartMs: this.#prefillStartMs,
      tokenTimesMs: [...this.#times],
      kvTransferStartMs: this.#kv?.startMs ?? null,
      kvTransferEndMs: this.#kv?.endMs ?? null,
      finishMs,
      finishReason: reason,
    };
    return { id: r.id, ids: [...this.#ids], text: this.#text(), finishReason: reason, error, timing, metrics: requestMetrics(timing) };
  }

  /** The stream's text so far, cut before the first matched stop string. */
  #text(): string {
    let text = this.stream.text;
    for (const s of this.#deps.request.stopStrings) {
      const at = text.indexOf(s);
      if (at >= 0) text = text.slice(0, at);
    }
    return text;
  }
}

/**
 * Ends `active` with 'abort' when `signal` fires (at once if it already has). The listener is
 * removed once the request settles: a caller's long-lived signal must not keep finished requests
 * reachable.
 */
export function bindAbortSignal(active: ActiveRequest, signal: AbortSignal | null): void {
  if (signal === null) return;
  const onAbort = (): void => active.complete('abort', null, true);
  if (signal.aborted) {
    onAbort();
    return;
  }
  signal.addEventListener('abort', onAbort, { once: true });
  active.stream.result.finally(() => signal.removeEventListener('abort', onAbort)).catch(() => undefined);
}
