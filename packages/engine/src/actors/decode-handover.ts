/**
 * DecodeHandover: a retiring decode actor's side of a role flip (decode -> prefill). With the
 * `handover` policy each running sequence moves to another decode actor over the same KV handoff a
 * prefilled prompt takes: its blocks hold the KV of the prompt and of every output token but the
 * last (whose KV is not computed yet), so the receiver gets them as a "prompt" of that length and
 * the last token as its "first token", and continues with the next one. With `drain`, or when no
 * target has room for a sequence, it finishes where it is.
 *
 * Invariants: a sequence leaves the batch only once a channel to its target is open (a full
 * handoff table or an unknown route leaves it running here, tried again after the next step), so
 * no token is lost; the receiver never re-emits the token it is handed (it was streamed here), so
 * none is duplicated. A channel that fails after the sequence left ends the attempt with a
 * retryable HandoffFailedError: the engine resumes it after the tokens already streamed. An abort
 * for a sequence that moved is forwarded to where it went.
 */
import { HandoffCancelledError, KvConnector, type BlockPool, type KvTarget } from '@baton/kv-cache';
import type { ActorRef } from '@baton/actors';
import { engineNow } from '../clock.js';
import { HandoffFailedError } from '../errors.js';
import type { FlipPolicy } from '../elastic-options.js';
import type { MigrationTarget } from '../elastic-protocol.js';
import type { ClientMsg, DecodeMsg, SchedulerMsg, WireRequest } from '../protocol.js';
import type { DecodeBatch, RunningSeq } from './decode-batch.js';
import { DecodeRoutes } from './decode-routes.js';
import type { TokenSink } from './token-sink.js';

/** What a handover needs from its decode actor. */
export interface DecodeHandoverDeps {
  index: number;
  name: string;
  pool: BlockPool;
  poolId: string;
  layers: number;
  deadlineMs: number;
  scheduler: ActorRef<SchedulerMsg>;
  client: ActorRef<ClientMsg>;
  sink: TokenSink;
  /** Called when a route to a target arrives (the actor tries again). */
  onRoute: () => void;
}

/** Sequences that moved, remembered for forwarding aborts. */
const MOVED_REMEMBERED = 1024;

/** One retirement of one decode actor. */
export class DecodeHandover {
  readonly policy: FlipPolicy;
  readonly #deps: DecodeHandoverDeps;
  readonly #decoders: readonly ActorRef<DecodeMsg>[];
  /** Free KV blocks each target had when the flip began, less what was handed to it since. */
  readonly #room: Map<number, number>;
  readonly #routes: DecodeRoutes;
  readonly #movedTo = new Map<string, number>();
  #connector: KvConnector | null = null;
  #next = 0;

  constructor(deps: DecodeHandoverDeps, policy: FlipPolicy, decoders: readonly ActorRef<DecodeMsg>[], targets: readonly MigrationTarget[]) {
    this.#deps = deps;
    this.policy = policy;
    this.#decoders = decoders;
    this.#room = new Map(targets.filter((t) => t.index !== deps.index && t.index < decoders.length).map((t) => [t.index, t.freeKvBlocks]));
    this.#routes = new DecodeRoutes(decoders, deps.poolId, () => deps.onRoute());
    if (policy === 'handover') for (const i of this.#room.keys()) this.#routes.target(i);
  }

  /** Hands every running sequence of `batch` that can go now to a target; returns how many left. */
  handOver(batch: DecodeBatch): number {
    if (this.policy !== 'handover') return 0;
    let moved = 0;
    for (const r of [...batch.running]) if (this.#move(r, batch)) moved += 1;
    return moved;
  }

  /** Forwards an abort of a sequence that moved; false when it did not move from here. */
  forwardAbort(requestId: string): boolean {
    const to = this.#movedTo.get(requestId);
    if (to === undefined) return false;
    this.#decoders[to].tell({ type: 'abort', requestId });
    return true;
  }

  /** Stops asking routes and closes the connections (in-flight channels fail, and are retried by the engine). */
  close(): void {
    this.#routes.close();
    this.#connector?.close();
  }

  #move(r: RunningSeq, batch: DecodeBatch): boolean {
    const blocks = r.table.blockIds.length;
    const picked = this.#pick(blocks);
    if (picked === null) return false;
    const { index: to, target } = picked;
    this.#connector ??= new KvConnector({ pool: this.#deps.pool });
    const moved: WireRequest = {
      ...r.request,
      promptIds: [...r.request.promptIds, ...r.tokens.slice(0, -1)],
      emitted: r.request.emitted + r.tokens.length - 1,
    };
    const writer = this.#connector.openWriter(target, { table: r.table, tokenCount: r.seq.length, sequenceId: moved.id, deadlineMs: this.#deps.deadlineMs });
    if (writer === null) return false;
    batch.take(r.request.id);
    if (target.kind === 'stream') this.#room.set(to, (this.#room.get(to) ?? 0) - blocks);
    const decoder = this.#decoders[to];
    // NOTE: a variable, not a literal, so this stays valid whatever optional fields `incoming` carries (no KV goes back from a handover).
    const incoming = { type: 'incoming' as const, request: moved, ticket: writer.ticket, returnTo: null, streamTo: target.kind === 'stream' ? target.endpoint.token : null };
    decoder.tell(incoming);
    for (let layer = 0; layer < this.#deps.layers; layer++) writer.publishLayer(layer);
    decoder.tell({ type: 'prefilled', requestId: moved.id, firstToken: r.lastToken, finished: false, time: engineNow() });
    writer.done.catch((e: unknown) => this.#failed(moved, to, e));
    r.seq.release();
    r.table.release();
    this.#remember(moved.id, to);
    this.#deps.client.tell({ type: 'placed', requestId: moved.id, actor: decoder.name, role: 'decode' });
    this.#deps.scheduler.tell({ type: 'moved', requestId: moved.id, from: this.#deps.index, to });
    return true;
  }

  /**
   * The next target (round robin) whose route is known and that has room: a target sharing this
   * pool always has (the blocks themselves move); a stream target needs `blocks` free blocks.
   */
  #pick(blocks: number): { index: number; target: KvTarget } | null {
    const indices = [...this.#room.keys()];
    for (let k = 0; k < indices.length; k++) {
      const index = indices[(this.#next + k) % indices.length];
      const target = this.#routes.target(index);
      if (target === null) continue;
      if (target.kind === 'stream' && (this.#room.get(index) ?? 0) < blocks + 1) continue;
      this.#next = (this.#next + k + 1) % indices.length;
      return { index, target };
    }
    return null;
  }

  #remember(requestId: string, to: number): void {
    this.#movedTo.set(requestId, to);
    if (this.#movedTo.size > MOVED_REMEMBERED) this.#movedTo.delete(this.#movedTo.keys().next().value as string);
  }

  /** The channel broke after the sequence left: a retryable failure ends this attempt (the engine resumes it). */
  #failed(request: WireRequest, to: number, e: unknown): void {
    this.#routes.forget(to);
    if (e instanceof HandoffCancelledError) return;
    this.#decoders[to].tell({ type: 'prefillFailed', requestId: request.id });
    const cause = e instanceof Error ? e.message : String(e);
    const error = new HandoffFailedError(request.id, `handing request "${request.id}" over from ${this.#deps.name} failed: ${cause}`);
    this.#deps.sink.finish({ requestId: request.id, reason: 'error', time: engineNow(), error: error.toJSON(), outputTokens: request.emitted + 1 });
    this.#deps.sink.flush();
  }
}
