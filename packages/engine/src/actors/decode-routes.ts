/**
 * DecodeRoutes: what a prefill actor knows of how to reach each decode actor's KV pool, and the
 * channel target that follows: block ids in the pool they share (same `poolId`), or the transfer
 * stream to the decode actor's endpoint (another process or host).
 *
 * Invariants: a route is asked of the decode actor itself (never guessed), at most one ask per
 * decode actor is in flight, and a route is forgotten when a channel to it fails, so a restarted
 * decode actor (a new endpoint) is asked again.
 */
import type { ActorRef } from '@baton/actors';
import type { KvTarget } from '@baton/kv-cache';
import { EngineError } from '../errors.js';
import type { DecodeKvRoute, DecodeMsg } from '../protocol.js';

const ROUTE_TIMEOUT_MS = 5_000;
/** Wait before asking again after a failed ask. */
const RETRY_MS = 100;

/** Routes to the decode actors of one prefill actor. */
export class DecodeRoutes {
  readonly #routes = new Map<number, DecodeKvRoute>();
  readonly #asking = new Set<number>();
  #closed = false;

  /**
   * @param decoders the decode actors, by index
   * @param poolId the prefill actor's own pool identity
   * @param onRoute called (in the actor's mailbox order is not guaranteed: keep it idempotent) when a route arrives
   */
  constructor(
    private readonly decoders: readonly ActorRef<DecodeMsg>[],
    private readonly poolId: string,
    private readonly onRoute: (decode: number) => void,
  ) {}

  /** Asks every decode actor for its route ahead of need. */
  prefetch(): void {
    this.decoders.forEach((_, i) => this.#ask(i));
  }

  /** The channel target toward decode actor `decode`, or null while its route is being asked. */
  target(decode: number): KvTarget | null {
    const route = this.#routes.get(decode);
    if (route === undefined) {
      this.#ask(decode);
      return null;
    }
    if (route.poolId === this.poolId) return { kind: 'shared' };
    if (route.endpoint === null) throw new EngineError(`decode actor ${decode} shares no KV pool with this prefill actor and has no KV endpoint`);
    return { kind: 'stream', endpoint: route.endpoint };
  }

  /** A channel to `decode` failed: ask it again before the next one (it may have restarted). */
  forget(decode: number): void {
    this.#routes.delete(decode);
  }

  /** Stops asking (the actor is stopping). */
  close(): void {
    this.#closed = true;
  }

  #ask(decode: number): void {
    if (this.#closed || this.#asking.has(decode)) return;
    this.#asking.add(decode);
    this.decoders[decode].ask({ type: 'kvRoute' }, { timeoutMs: ROUTE_TIMEOUT_MS }).then(
      (route) => {
        this.#asking.delete(decode);
        this.#routes.set(decode, route);
        this.onRoute(decode);
      },
      () => {
        this.#asking.delete(decode);
        const retry = setTimeout(() => this.#ask(decode), RETRY_MS);
        retry.unref();
      },
    );
  }
}
