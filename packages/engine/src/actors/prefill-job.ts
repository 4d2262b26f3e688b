/**
 * PrefillJob: a prompt queued on a prefill actor, and its prefix match against the actor's own
 * pool. With lower tiers under the pool (context caching), a match that may continue in host
 * memory or on disk is asynchronous: it runs between steps while the job waits holding nothing,
 * and its result (with references on the matched blocks) is kept on the job for the next step.
 *
 * Invariants: a job holds a match's references only once the match resolved, and only while it is
 * queued (a match that resolves for a job no longer queued is released at once); the context
 * matched leaves out the last prompt token, which is always computed (its logits give the first token).
 */
import type { BlockPool, KvMemPool, PrefixMatch } from '@baton/kv-cache';
import type { WireRequest } from '../protocol.js';

/** A queued prompt. */
export interface PrefillJob {
  request: WireRequest;
  decode: number | null;
  /** When it was queued (engine clock). */
  since: number;
  /** A prefix match taken ahead of its step (it holds references), or null. */
  match: PrefixMatch | null;
  /** An asynchronous (tiered) match is running for it. */
  matching: boolean;
  /** A cached prefix is being transferred into this pool for it. */
  awaitsPrefix: boolean;
  /** Prompt tokens to compute: the prompt less its prefix cached in the hot pool when queued (load reports). */
  uncached: number;
}

/** What matching needs of the prefill actor. */
export interface JobMatchDeps {
  /** Prefix reuse on (off: nothing is reused). */
  caching: boolean;
  pool: BlockPool;
  /** The tiers under the pool, or null without caching. */
  mem: KvMemPool | null;
  /** The actor's queue (a resolved match is kept only by a job still in it). */
  queue: PrefillJob[];
  /** Runs when a tiered match settled (the actor schedules a step). */
  wake: () => void;
  /** A tiered match failed: the job has left the queue, its request fails. */
  failed: (request: WireRequest, e: unknown) => void;
}

/**
 * The job's prefix match, taking it from the job; null while a tiered match has to run first (it
 * is started here, and `wake` runs when it settled). Without caching: nothing is reused.
 */
export function takeMatch(job: PrefillJob, deps: JobMatchDeps): PrefixMatch | null {
  const context = job.request.promptIds.slice(0, -1);
  if (job.match !== null) {
    const m = job.match;
    job.match = null;
    return m;
  }
  if (!deps.caching) return { table: deps.pool.createTable(), cachedTokens: 0 };
  const mem = deps.mem;
  const t = mem?.stats();
  // NOTE: with nothing in the lower tiers the hot pool's synchronous match is the whole answer.
  if (mem === null || t === undefined || (t.host.blocks === 0 && (t.disk?.blocks ?? 0) === 0)) return deps.pool.match(context);
  job.matching = true;
  mem.match(context).then(
    (m) => {
      job.matching = false;
      if (deps.queue.includes(job)) job.match = m;
      else m.table.release();
      deps.wake();
    },
    (e: unknown) => {
      job.matching = false;
      const i = deps.queue.indexOf(job);
      if (i >= 0) deps.queue.splice(i, 1);
      deps.failed(job.request, e);
      deps.wake();
    },
  );
  return null;
}

/** Releases a match the job holds (aborted, stopped, or given back). */
export function dropMatch(job: PrefillJob): void {
  job.match?.table.release();
  job.match = null;
}
