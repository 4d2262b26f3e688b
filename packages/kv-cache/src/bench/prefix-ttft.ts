/**
 * Bench part 3 of `npm run bench:kv`: TTFT of a request whose 448-token prefix is in the prefix
 * cache vs the same kind of request with the cache emptied, on the bench model (`baton-tiny`:
 * 4 layers x 256 wide, 8 heads) on the wasm backend, in this thread.
 * TTFT here = match + reserve blocks + attach + prefill of the uncached tail + greedy first token
 * (no queueing, no transfer). Runs are interleaved (uncached, then cached, per round); every
 * request has a fresh 64-token tail so only the shared prefix can hit.
 * NOTE: @baton/model is imported dynamically: @baton/kv-cache has no runtime dependency on it
 * (it is a devDependency for types only).
 */
import type { Gpt } from '@baton/model';
import { BlockPool } from '../block-pool.js';

const PREFIX = 448;
const TAIL = 64;
const ROUNDS = 9;
const WARMUP = 2;

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Deterministic byte tokens. */
function tokens(length: number, seed: number): number[] {
  return Array.from({ length }, (_, i) => (i * 131 + seed * 7919 + ((i * i) % 13)) % 256);
}

/** Serves one request as a prefill actor would; returns its TTFT in ms and the cached tokens. */
function request(model: Gpt, pool: BlockPool, prompt: readonly number[], argmax: (row: Float32Array) => number): { ms: number; cachedTokens: number } {
  const start = performance.now();
  const { table, cachedTokens } = pool.match(prompt.slice(0, -1));
  if (!table.ensureCapacity(prompt.length)) throw new Error('bench pool too small');
  const seq = model.attach(table, { length: cachedTokens });
  try {
    argmax(model.prefill(seq, prompt.slice(cachedTokens)));
    const ms = performance.now() - start;
    pool.publish(table, prompt);
    return { ms, cachedTokens };
  } finally {
    seq.release();
    table.release();
  }
}

/** Table rows of the prefix-cache TTFT comparison. */
export async function benchPrefixTtft(): Promise<string[]> {
  const m = await import('@baton/model');
  await m.initBackend('wasm');
  const model = await m.loadModel('baton-tiny');
  const { nLayer, nHead, nEmbd } = model.config;
  const pool = BlockPool.create({ blockSize: 16, layers: nLayer, heads: nHead, headDim: nEmbd / nHead, totalBlocks: 256 });
  const prefix = tokens(PREFIX, 1);
  const cold: number[] = [];
  const warm: number[] = [];
  let cachedTokens = 0;
  try {
    for (let round = 0; round < WARMUP + ROUNDS; round++) {
      pool.evictAllCached();
      const miss = request(model, pool, [...prefix, ...tokens(TAIL, 2 * round + 2)], m.argmax);
      const hit = request(model, pool, [...prefix, ...tokens(TAIL, 2 * round + 3)], m.argmax);
      if (miss.cachedTokens !== 0) throw new Error('uncached request hit the cache');
      cachedTokens = hit.cachedTokens;
      if (round < WARMUP) continue;
      cold.push(miss.ms);
      warm.push(hit.ms);
    }
  } finally {
    model.dispose();
  }
  const coldMs = median(cold);
  const warmMs = median(warm);
  const prompt = PREFIX + TAIL;
  return [
    `| prefix-cache TTFT (baton-tiny, wasm, ${prompt}-token prompt) | cached tokens | prefilled tokens | median ms | vs uncached |`,
    '|---|---:|---:|---:|---:|',
    `| baseline: ${PREFIX}-token prefix not cached | 0 | ${prompt} | ${coldMs.toFixed(1)} | 100% |`,
    `| ${PREFIX}-token prefix cached | ${cachedTokens} | ${prompt - cachedTokens} | ${warmMs.toFixed(1)} | ${((100 * warmMs) / coldMs).toFixed(0)}% (${(coldMs / warmMs).toFixed(1)}x faster) |`,
  ];
}
