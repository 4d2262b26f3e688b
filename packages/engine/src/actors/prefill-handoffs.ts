/**
 * PrefillHandoffs: a prefill actor's side of the KV handoff to decode actors — the route to each
 * decode actor's pool, the channel opened for a prompt (block ids in a shared pool, or the
 * transfer stream to a decode actor in another process), the `incoming` / `prefilled` /
 * `prefillFailed` messages, and prompts prefilled before their decode choice or route was known
 * (kept with their blocks, handed over every layer at once when it is).
 *
 * Invariants: a kept prompt holds one reference on its blocks until it is handed over, aborted or
 * closed; a channel that fails without the decode side holding the KV ends the attempt with a
 * retryable HandoffFailedError (cancelled = settled elsewhere: nothing is reported), and its route
 * is forgotten so a restarted decode actor is asked again.
 */
import type { ActorRef } from '@baton/actors';
import { HandoffCancelledError, KvConnector, type BlockTable, type KvEndpointDescriptor, type KvTarget, type KvWriter } from '@baton/kv-cache';
import { engineNow } from '../clock.js';
import { HandoffFailedError } from '../errors.js';
import type { DecodeMsg, WireRequest } from '../protocol.js';
import { BLOCKED_RETRY_MS } from '../step-policy.js';
import { DecodeRoutes } from './decode-routes.js';
import type { TokenSink } from './token-sink.js';

/** What the decode actor hears once the first token is out. */
export interface FirstToken {
  id: number;
  finished: boolean;
  time: number;
  /** Fault injection dropped this handoff: its layers are never written to the channel. */
  dropped: boolean;
}

/** A prefilled prompt waiting for its decode choice or the route to it; holds a reference on its blocks. */
export interface Awaiting {
  request: WireRequest;
  table: BlockTable;
  first: FirstToken;
  decode: number | null;
}

/** What the handoffs need of their prefill actor. */
export interface PrefillHandoffsDeps {
  /** The decode actors, by index (decode actors added later join this array). */
  decoders: ActorRef<DecodeMsg>[];
  /** The prefill actor's pool identity. */
  poolId: string;
  connector: KvConnector;
  sink: TokenSink;
  /** The actor's name (in error messages). */
  name: string;
  layers: number;
  handoffTimeoutMs: number;
  /** Where a decode actor in another pool sends the finished turn's KV back (null: it does not). */
  returnTo: () => KvEndpointDescriptor | null;
  setTimeout: (fn: () => void, ms: number) => void;
  /** A handoff failed for a reason other than the channel (reported as the actor's failure). */
  failed: (request: WireRequest, e: unknown) => void;
}

/** Channels remembered for cancellation on abort. */
const RECENT_HANDOFFS = 256;

/** A prefill actor's handoffs to decode actors; see the file header. */
export class PrefillHandoffs {
  readonly #deps: PrefillHandoffsDeps;
  readonly #routes: DecodeRoutes;
  /** Recent channels by request id, so an abort can cancel one its decode actor never adopted. */
  readonly #recent = new Map<string, KvWriter>();
  /** Prefilled prompts not handed over yet, by request id. */
  readonly #awaiting = new Map<string, Awaiting>();

  constructor(deps: PrefillHandoffsDeps) {
    this.#deps = deps;
    this.#routes = new DecodeRoutes(deps.decoders, deps.poolId, () => this.#shipAwaiting());
  }

  /** Prefilled prompts waiting for their decode choice or route. */
  get awaiting(): number {
    return this.#awaiting.size;
  }

  /** Asks every decode actor for its route ahead of need. */
  prefetch(): void {
    this.#routes.prefetch();
  }

  /** Decode actors whose pool this actor shares. */
  sharedDecoders(): number[] {
    return this.#deps.decoders.map((_, i) => i).filter((i) => this.#routes.target(i)?.kind === 'shared');
  }

  /** The channel target toward `decode`, or null while it is unknown (no decode choice, or its route is being asked). */
  targetOf(decode: number | null): KvTarget | null {
    return decode === null ? null : this.#routes.target(decode);
  }

  /** Opens a channel to `decode` for `table` and tells the decode actor; null when no handoff slot is free. */
  open(request: WireRequest, table: BlockTable, decode: number, target: KvTarget): KvWriter | null {
    const writer = this.#deps.connector.openWriter(target, {
      table, tokenCount: request.promptIds.length, sequenceId: request.id, deadlineMs: 2 * this.#deps.handoffTimeoutMs,
    });
    if (writer === null) return null;
    this.#remember(request.id, writer);
    writer.done.catch((e: unknown) => this.#channelFailed(request, decode, e));
    // NOTE: a decode actor in another pool sends the finished turn's KV back here (the shared pool already holds it).
    const returnTo = target.kind === 'stream' ? this.#deps.returnTo() : null;
    const streamTo = target.kind === 'stream' ? target.endpoint.token : null;
    this.#deps.decoders[decode].tell({ type: 'incoming', request, ticket: writer.ticket, returnTo, streamTo });
    return writer;
  }

  /** Tells decode actor `decode` the prompt is prefilled: it continues from the first token. */
  announce(request: WireRequest, decode: number, first: FirstToken): void {
    this.#deps.decoders[decode].tell({ type: 'prefilled', requestId: request.id, firstToken: first.id, finished: first.finished, time: first.time });
  }

  /** Tells decode actor `decode` the prefill of `requestId` failed (it drops the channel). */
  prefillFailed(decode: number, requestId: string): void {
    this.#deps.decoders[decode].tell({ type: 'prefillFailed', requestId });
  }

  /** Keeps a prefilled prompt (its table's reference now belongs here) until its decode choice and route are known. */
  keep(a: Awaiting): void {
    this.#awaiting.set(a.request.id, a);
  }

  /** The decode choice for a kept prompt: it is handed over now if its route is known. False when none is kept for `requestId`. */
  assign(requestId: string, decode: number): boolean {
    const waiting = this.#awaiting.get(requestId);
    if (waiting === undefined) return false;
    waiting.decode = decode;
    this.#ship(waiting);
    return true;
  }

  /** Cancels the request's channel (a pending one frees its blocks now) and releases a kept prompt. */
  abort(requestId: string): void {
    // NOTE: cancelling an adopted or finished channel changes nothing.
    this.#recent.get(requestId)?.cancel();
    this.#recent.delete(requestId);
    const waiting = this.#awaiting.get(requestId);
    if (waiting !== undefined) {
      this.#awaiting.delete(requestId);
      waiting.table.release();
    }
  }

  /** Releases every kept prompt and stops asking for routes. */
  close(): void {
    this.#routes.close();
    for (const a of this.#awaiting.values()) a.table.release();
    this.#awaiting.clear();
  }

  #remember(requestId: string, writer: KvWriter): void {
    this.#recent.set(requestId, writer);
    if (this.#recent.size > RECENT_HANDOFFS) this.#recent.delete(this.#recent.keys().next().value as string);
  }

  /** Hands over every kept prompt whose decode actor and route are known now. */
  #shipAwaiting(): void {
    for (const a of [...this.#awaiting.values()]) this.#ship(a);
  }

  /** Hands over one kept prompt, every layer at once, if its decode actor and route are known. */
  #ship(a: Awaiting): void {
    const target = this.targetOf(a.decode);
    if (a.decode === null || target === null) return;
    const decode = a.decode;
    try {
      const writer = this.open(a.request, a.table, decode, target);
      if (writer === null) {
        // NOTE: no handoff slot free right now: try again shortly (the blocks stay held).
        this.#deps.setTimeout(() => this.#awaiting.get(a.request.id) === a && this.#ship(a), BLOCKED_RETRY_MS);
        return;
      }
      this.#awaiting.delete(a.request.id);
      if (!a.first.dropped) {
        for (let layer = 0; layer < this.#deps.layers; layer++) writer.publishLayer(layer);
      }
      this.announce(a.request, decode, a.first);
    } catch (e) {
      this.#awaiting.delete(a.request.id);
      this.prefillFailed(decode, a.request.id);
      if (!(e instanceof HandoffCancelledError)) this.#deps.failed(a.request, e);
    } finally {
      if (!this.#awaiting.has(a.request.id)) a.table.release();
    }
  }

  /**
   * A channel ended without the decode side holding the KV. Cancelled = settled elsewhere (abort,
   * decode-side timeout, recovery). Anything else (the stream broke, the decode side's pool refused
   * it) ends this attempt with a retryable handoff failure, and the route is asked again: the
   * decode actor may have restarted on a new endpoint.
   */
  #channelFailed(request: WireRequest, decode: number, e: unknown): void {
    this.#routes.forget(decode);
    if (e instanceof HandoffCancelledError) return;
    this.prefillFailed(decode, request.id);
    const cause = e instanceof Error ? e.message : String(e);
    const error = new HandoffFailedError(request.id, `KV handoff of request "${request.id}" from ${this.#deps.name} failed: ${cause}`);
    this.#deps.sink.finish({ requestId: request.id, reason: 'error', time: engineNow(), error: error.toJSON(), outputTokens: request.emitted });
    this.#deps.sink.flush();
  }
}
