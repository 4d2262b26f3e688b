/**
 * `engine.dropCaches`'s body: asks every serving actor (on a thread, in a child process or on a
 * cluster worker) to drop every unreferenced cached block of its pool and of its host and disk
 * tiers, and adds up what went.
 *
 * Invariants: blocks a running or queued request references are never dropped (they become
 * cached, and droppable, when released); each drop reaches the scheduler's prompt tree as the
 * pool's `evict` event, sent before the actor answers. An actor that is down, or does not answer
 * in time, is listed in `skipped` and keeps its caches; nothing else changes.
 */
import type { ActorRef } from '@baton/actors';
import type { KvTierCounts } from '@baton/kv-cache';
import type { CachesDropped, DropCachesMsg } from './protocol.js';
import type { StatsProtocol } from './topology.js';

/** What `engine.dropCaches` reports. */
export interface DropCachesResult {
  /** Blocks dropped per tier, added over the actors. */
  dropped: KvTierCounts;
  /** Each actor that answered, with what it dropped. */
  actors: CachesDropped[];
  /** Actors that were down or did not answer within the deadline: their caches are untouched. */
  skipped: string[];
}

/** How long one actor gets to answer. */
const DROP_TIMEOUT_MS = 10_000;

/** Asks every actor of `serving` that is up to drop its caches; see the file header. */
export async function dropServingCaches(serving: readonly ActorRef<StatsProtocol>[], isDown: (actor: string) => boolean): Promise<DropCachesResult> {
  const answers = await Promise.all(serving.map(async (ref) => {
    if (isDown(ref.name)) return { name: ref.name, drop: null };
    // NOTE: every serving protocol includes the `dropCaches` ask; refs are contravariant in their protocol, hence the cast.
    const drop = await (ref as unknown as ActorRef<DropCachesMsg>).ask({ type: 'dropCaches' }, { timeoutMs: DROP_TIMEOUT_MS }).catch(() => null);
    return { name: ref.name, drop };
  }));
  const actors = answers.flatMap((a) => (a.drop === null ? [] : [a.drop]));
  const sum = (tier: keyof KvTierCounts): number => actors.reduce((n, a) => n + a.dropped[tier], 0);
  return {
    dropped: { hot: sum('hot'), host: sum('host'), disk: sum('disk') },
    actors,
    skipped: answers.filter((a) => a.drop === null).map((a) => a.name),
  };
}
