/**
 * Worker thread for the concurrency test: attaches the shared pool and runs a seeded random mix
 * of exclusive allocations, releases and prefix match/publish cycles, checking on the way that no
 * block is handed out twice (owner word compare-exchange, reference count exactly 1 on
 * allocation) and that shared prefix blocks keep the content their publisher wrote.
 */
import { parentPort } from 'node:worker_threads';
import { BlockPool } from '../block-pool.js';
import type { BlockTable } from '../block-table.js';
import type { StressReply, StressRequest } from '../protocol.js';

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function run(request: StressRequest): StressReply {
  const pool = BlockPool.attach(request.handle);
  const owners = new Int32Array(request.owners);
  const me = request.workerIndex + 1;
  const nEmbd = pool.geometry.heads * pool.geometry.headDim;
  const random = mulberry32(request.seed);
  const violations: string[] = [];
  const held: number[][] = [];
  let allocations = 0;
  let nulls = 0;
  let prefixHits = 0;

  const claim = (ids: readonly number[]): void => {
    for (const id of ids) {
      if (pool.refCount(id) !== 1) violations.push(`block ${id} allocated with refcount ${pool.refCount(id)}`);
      if (Atomics.compareExchange(owners, id, 0, me) !== 0) violations.push(`block ${id} handed out twice`);
    }
  };
  const unclaim = (ids: readonly number[]): void => {
    for (const id of ids) {
      if (Atomics.compareExchange(owners, id, me, 0) !== me) violations.push(`block ${id} owner changed`);
    }
  };
  const row = (value: number): Float32Array => new Float32Array(nEmbd).fill(value);
  const checkRows = (table: BlockTable, tokens: readonly number[], end: number): void => {
    const out = new Float32Array(nEmbd);
    for (let p = 0; p < end; p++) {
      table.read(0, 'k', p, p + 1, out);
      if (out[0] !== tokens[p]) violations.push(`cached block of token ${p} holds ${out[0]}, expected ${tokens[p]}`);
    }
  };

  for (let i = 0; i < request.iterations; i++) {
    const choice = random();
    if (choice < 0.35) {
      const ids = pool.allocate(1 + Math.floor(random() * 4));
      if (ids === null) {
        nulls++;
        continue;
      }
      allocations++;
      claim(ids);
      held.push(ids);
    } else if (choice < 0.65 && held.length > 0) {
      const ids = held.splice(Math.floor(random() * held.length), 1)[0];
      unclaim(ids);
      pool.release(ids);
    } else {
      const tokens = request.prompts[Math.floor(random() * request.prompts.length)];
      const { table, cachedTokens } = pool.match(tokens);
      if (cachedTokens > 0) prefixHits++;
      checkRows(table, tokens, cachedTokens);
      const before = table.blockIds.length;
      if (table.ensureCapacity(tokens.length)) {
        const fresh = table.blockIds.slice(before);
        claim(fresh);
        for (let p = cachedTokens; p < tokens.length; p++) table.write(0, 'k', p, row(tokens[p]));
        unclaim(fresh);
        pool.publish(table, tokens);
        checkRows(table, tokens, tokens.length);
      } else {
        nulls++;
      }
      table.release();
    }
  }
  for (const ids of held) {
    unclaim(ids);
    pool.release(ids);
  }
  return { type: 'stress-done', allocations, nulls, prefixHits, violations: violations.slice(0, 20) };
}

parentPort?.on('message', (request: StressRequest) => {
  let reply: StressReply;
  try {
    reply = run(request);
  } catch (error) {
    reply = { type: 'stress-done', allocations: 0, nulls: 0, prefixHits: 0, violations: [`threw: ${String(error)}`] };
  }
  parentPort?.postMessage(reply);
});
