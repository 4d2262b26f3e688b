/**
 * TokenSink: collects what one engine step produced (tokens, preempted and finished requests)
 * and sends it in as few messages as possible: one `tokens` message per step to the client, one
 * `kvWait` per preempted request, then one `finished` per request, then the scheduler's bookkeeping.
 *
 * Invariant: a request's tokens always reach the client before its `finished` message (same
 * sender, tokens flushed first), so the client never sees a token after the end.
 */
import type { ActorRef } from '@baton/actors';
import type { SerializedEngineError } from '../errors.js';
import type { ClientMsg, SchedulerMsg, TokenItem, WorkerFinish } from '../protocol.js';

interface Finish {
  requestId: string;
  reason: WorkerFinish;
  time: number;
  error: SerializedEngineError | null;
  outputTokens: number;
}

/** Buffers a step's output and flushes it to the client and the scheduler. */
export class TokenSink {
  #tokens: TokenItem[] = [];
  #finishes: Finish[] = [];
  #kvWaits: string[] = [];

  constructor(
    private readonly client: ActorRef<ClientMsg>,
    private readonly scheduler: ActorRef<SchedulerMsg>,
  ) {}

  token(requestId: string, id: number, index: number, time: number): void {
    this.#tokens.push({ requestId, id, index, time });
  }

  /** Request `requestId` was preempted: it waits for KV to be recomputed (it is not stalled). */
  kvWait(requestId: string): void {
    this.#kvWaits.push(requestId);
  }

  finish(f: Finish): void {
    this.#finishes.push(f);
  }

  /** Sends everything buffered (tokens first). */
  flush(): void {
    if (this.#tokens.length > 0) this.client.tell({ type: 'tokens', items: this.#tokens });
    this.#tokens = [];
    for (const requestId of this.#kvWaits) this.client.tell({ type: 'kvWait', requestId });
    this.#kvWaits = [];
    const finishes = this.#finishes;
    this.#finishes = [];
    for (const f of finishes) {
      this.client.tell({ type: 'finished', requestId: f.requestId, reason: f.reason, time: f.time, error: f.error, outputTokens: f.outputTokens });
      this.scheduler.tell({ type: 'finished', requestId: f.requestId, outputTokens: f.outputTokens });
    }
  }
}
