/**
 * Many worker threads attach one pool and allocate, share (prefix matches) and free concurrently.
 * Runs the compiled worker from packages/kv-cache/dist (build first).
 */
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { BlockPool } from '@baton/kv-cache';
import type { StressReply, StressRequest } from '../../packages/kv-cache/src/protocol.js';

const workerUrl = new URL('../../packages/kv-cache/dist/testing/pool-stress-worker.js', import.meta.url);
const workers: Worker[] = [];

afterEach(async () => {
  await Promise.all(workers.splice(0).map((worker) => worker.terminate()));
});

describe('BlockPool across worker threads', () => {
  it('never hands a block out twice, never goes negative, and returns every block', async () => {
    const pool = BlockPool.create({ blockSize: 4, layers: 2, heads: 2, headDim: 4, totalBlocks: 48 });
    const owners = new SharedArrayBuffer(48 * 4);
    const base = Array.from({ length: 12 }, (_, i) => 1000 + i);
    const prompts = [
      [...base, 1, 2, 3, 4, 5],
      [...base, 9, 9, 9, 9],
      [...base.slice(0, 8), 7, 7, 7, 7, 7, 7, 7, 7],
      [3, 1, 4, 1, 5, 9, 2, 6],
    ];
    const start = pool.stats();
    const replies = await Promise.all(
      Array.from({ length: 6 }, async (_, workerIndex) => {
        const worker = new Worker(workerUrl);
        workers.push(worker);
        const request: StressRequest = { type: 'stress', handle: pool.handle, owners, workerIndex, seed: 1234 + workerIndex, iterations: 3000, prompts };
        worker.postMessage(request);
        const [reply] = (await once(worker, 'message')) as [StressReply];
        return reply;
      }),
    );
    for (const reply of replies) expect(reply.violations).toEqual([]);
    expect(replies.reduce((n, r) => n + r.allocations, 0)).toBeGreaterThan(1000);
    expect(replies.reduce((n, r) => n + r.prefixHits, 0)).toBeGreaterThan(100);
    expect(replies.reduce((n, r) => n + r.nulls, 0)).toBeGreaterThan(0);
    const end = pool.stats();
    expect(end.used).toBe(0);
    expect(end.free + end.cached).toBe(start.total);
    expect(end.evictions).toBeGreaterThan(0);
    for (let id = 0; id < 48; id++) expect(pool.refCount(id)).toBe(0);
    expect(new Int32Array(owners).every((owner) => owner === 0)).toBe(true);
    pool.evictAllCached();
    expect(pool.stats()).toMatchObject({ free: start.free, used: 0, cached: 0, indexed: 0 });
  });
});
