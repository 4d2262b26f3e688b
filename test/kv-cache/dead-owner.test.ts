/**
 * A worker thread takes blocks under owner k (prefix match, table growth, allocation, a handoff
 * it produces, a handoff it consumes) and is killed with worker.terminate(). From the main thread,
 * reclaimOwner(k) and cancelHandoffsOf(k) return the pool to its starting free count, and a
 * handoff left pending by the killed consumer is swept once past its deadline.
 * Runs the compiled worker from packages/kv-cache/dist (build first).
 */
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { BlockPool, HandoffCancelledError } from '@baton/kv-cache';
import type { OwnerWorkReply, OwnerWorkRequest } from '../../packages/kv-cache/src/protocol.js';
// NOTE: from dist, like the BlockPool above (the source and compiled classes are distinct types).
import { poolViolations } from '../../packages/kv-cache/dist/testing/pool-invariants.js';

const workerUrl = new URL('../../packages/kv-cache/dist/testing/owner-worker.js', import.meta.url);
const workers: Worker[] = [];
const geometry = { blockSize: 4, layers: 2, heads: 2, headDim: 4, totalBlocks: 32, handoffSlots: 4, maxOwners: 8 };
const DEADLINE_MS = 60_000;

afterEach(async () => {
  await Promise.all(workers.splice(0).map((worker) => worker.terminate()));
});

async function holdThenKill(request: OwnerWorkRequest): Promise<Extract<OwnerWorkReply, { type: 'holding' }>> {
  const worker = new Worker(workerUrl);
  workers.push(worker);
  worker.postMessage(request);
  const [reply] = (await once(worker, 'message')) as [OwnerWorkReply];
  await worker.terminate();
  if (reply.type !== 'holding') throw new Error(`worker failed: ${reply.message}`);
  return reply;
}

describe('reclaiming a killed worker thread', () => {
  it('returns the pool to its starting free count and sweeps the handoff it left pending', async () => {
    const pool = BlockPool.create(geometry);
    const start = pool.stats();
    const prompt = [5, 6, 7, 8, 9, 10, 11, 12, 13];
    const cached = pool.createTable();
    cached.ensureCapacity(prompt.length);
    pool.publish(cached, prompt);

    // The main thread opens a handoff the killed worker (the consumer) never adopts.
    const source = pool.createTable();
    source.ensureCapacity(8);
    const pending = pool.openHandoff(source, { tokenCount: 8, deadlineMs: DEADLINE_MS });
    if (pending === null) throw new Error('no handoff slot');
    source.release();

    const owner = 3;
    const reply = await holdThenKill({ type: 'owner-work', handle: pool.handle, owner, prompt, extraTokens: 7, blocks: 3, consume: null });
    // 2 matched blocks + 2 grown (9 + 7 tokens = 4 blocks) + 3 allocated; the produced handoff's are the slot's.
    expect(reply.references).toBe(7);
    expect(pool.ownerReferences(owner)).toBe(7);
    const killedConsumer = await holdThenKill({ type: 'owner-work', handle: pool.handle, owner: 4, prompt: [], extraTokens: 0, blocks: 0, consume: pending.descriptor });
    expect(killedConsumer.references).toBe(0);

    cached.release();
    // The table's 4 blocks are still pinned by the handoff the worker produced: only the 3
    // allocated blocks lose their last reference until that handoff is cancelled too.
    expect(pool.reclaimOwner(owner)).toBe(3);
    expect(pool.cancelHandoffsOf(owner)).toBe(1);
    expect(pool.stats().used).toBe(2);
    expect(pool.acceptHandoff(reply.produced).state).toBe('cancelled');
    expect(pool.reclaimOwner(4)).toBe(0);

    expect(pool.sweepExpiredHandoffs(Date.now())).toBe(0);
    expect(pool.sweepExpiredHandoffs(Date.now() + DEADLINE_MS + 1)).toBe(1);
    expect(pending.state).toBe('cancelled');
    expect(() => pool.acceptHandoff(pending.descriptor).adopt()).toThrow(HandoffCancelledError);
    expect(pool.sweepExpiredHandoffs(Date.now() + DEADLINE_MS + 1)).toBe(0);

    expect(poolViolations(pool)).toEqual([]);
    pool.evictAllCached();
    expect(pool.stats()).toMatchObject({ free: start.free, used: 0, cached: 0 });
  });
});
