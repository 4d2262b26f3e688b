/**
 * Probe: memory after a full-KV-cache load. Many concurrent greedy streams, long enough to fill
 * the KV pool, run twice, identically, on one engine. After each load the probe records the
 * process's RSS, the main thread's heap and every serving actor's thread memory (V8 heap,
 * external and ArrayBuffer bytes, the model's wasm-kernel memory and the tfjs-wasm heap), and
 * prints a table.
 *
 * While the pool is full, a few 8-token requests are sent; each must be served or refused with
 * OverloadedError (the engine's bounded wait), never hang; how long they took is printed.
 *
 * Asserted (behaviour, not timing): both loads complete with no error, the pool is back to 0
 * blocks in use, and the second identical load grows RSS and every actor's WebAssembly memory by
 * little compared with the first: what the first load made the process take is reused, not taken
 * again (WebAssembly memories can never shrink, so they must stop growing).
 *
 * Quick by default (24 streams of 200 tokens over a 256-block pool). The full probe,
 * `npm run reliability:memory` (BATON_MEMORY_FULL=1), runs 100 streams of 900 tokens over the
 * default 1,024-block pool.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createEngine, OverloadedError, type Engine, type GenerationResult, type ServingActorStats } from '@baton/engine';
import { mixedPrompts } from '../support/reference.js';
import { mib, snapshot } from './support/resource-probe.js';

const FULL = process.env.BATON_MEMORY_FULL === '1';
const STREAMS = FULL ? 100 : 24;
const MAX_TOKENS = FULL ? 900 : 200;
const NUM_BLOCKS = FULL ? 1024 : 256;
const SHORT_REQUESTS = FULL ? 15 : 4;
const MIB = 2 ** 20;

let engine: Engine | null = null;
afterAll(async () => {
  await engine?.close({ deadlineMs: 0 });
  engine = null;
});

interface Sample {
  phase: string;
  rss: number;
  mainHeap: number;
  mainExternal: number;
  actors: ServingActorStats[];
}

/** RSS and the main thread's heap after a full GC, and every actor's memory. */
async function sample(e: Engine, phase: string): Promise<Sample> {
  const snap = await snapshot();
  const { actors } = await e.stats();
  return { phase, rss: snap.rssBytes, mainHeap: snap.heapUsedBytes, mainExternal: process.memoryUsage().external, actors };
}

/** What became of the short requests sent while the pool was full. */
interface ShortOutcomes {
  completedMs: number[];
  refused: number;
  other: string[];
}

/**
 * Every stream of one load, read to the end; meanwhile, once the pool is nearly full, SHORT_REQUESTS
 * 8-token requests, one every 250 ms (they must be served or refused with OverloadedError, never hang).
 */
async function load(e: Engine, prompts: readonly number[][]): Promise<{ errors: string[]; tokens: number; refusedStreams: number; shorts: ShortOutcomes }> {
  let done = false;
  let refusedStreams = 0;
  // NOTE: a stream refused because it could not start in time (queue.maxWaitMs, on a busy machine)
  // is sent again after its Retry-After, as an HTTP client would: both loads run every stream.
  const stream = async (prompt: number[]): Promise<GenerationResult> => {
    for (;;) {
      try {
        const gen = e.generate({ prompt, maxTokens: MAX_TOKENS });
        for await (const _ of gen) void _;
        return await gen.result;
      } catch (error) {
        if (!(error instanceof OverloadedError)) throw error;
        refusedStreams += 1;
        await new Promise((resolve) => setTimeout(resolve, error.retryAfterMs));
      }
    }
  };
  const streams = Promise.all(prompts.map(stream)).finally(() => (done = true));
  streams.catch(() => undefined);
  const shorts: ShortOutcomes = { completedMs: [], refused: 0, other: [] };
  const sent: Promise<void>[] = [];
  for (;;) {
    const pool = (await e.stats()).pool;
    if (done || pool.used >= 0.9 * pool.total) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  for (let i = 0; i < SHORT_REQUESTS && !done; i++) {
    const started = performance.now();
    sent.push(e.generate({ prompt: [72, 105, 32, 48 + i], maxTokens: 8 }).result.then(
      (r) => void (r.finishReason === 'length' ? shorts.completedMs.push(performance.now() - started) : shorts.other.push(r.error?.message ?? r.finishReason)),
      (error: unknown) => void (error instanceof OverloadedError ? (shorts.refused += 1) : shorts.other.push(String(error))),
    ));
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  const results = await streams;
  await Promise.all(sent);
  return {
    errors: results.filter((r) => r.finishReason === 'error').map((r) => r.error?.message ?? 'error'),
    tokens: results.reduce((n, r) => n + r.ids.length, 0),
    refusedStreams,
    shorts,
  };
}

function describeShorts(s: ShortOutcomes): string {
  const sorted = [...s.completedMs].sort((x, y) => x - y);
  const at = (q: number): string => (sorted.length === 0 ? '-' : `${(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] / 1000).toFixed(2)} s`);
  return `${s.completedMs.length} served (p50 ${at(0.5)}, max ${at(1)}), ${s.refused} refused with OverloadedError, ${s.other.length} other`;
}


function table(samples: readonly Sample[]): string {
  const names = samples[0].actors.map((a) => a.name);
  const head = ['phase', 'RSS', 'main heap', 'main external', ...names.flatMap((n) => [`${n} heap`, `${n} ext`, `${n} kernel wasm`, `${n} tfjs wasm`])];
  const rows = samples.map((s) => [
    s.phase, mib(s.rss), mib(s.mainHeap), mib(s.mainExternal),
    ...names.flatMap((n) => {
      const m = s.actors.find((a) => a.name === n)?.memory ?? null;
      return m === null ? ['?', '?', '?', '?'] : [mib(m.heapUsed), mib(m.external), mib(m.kernelWasm), mib(m.tfjsWasm)];
    }),
  ]);
  return [head, ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n');
}

describe('memory after a full KV cache', () => {
  it(`a second identical load of ${STREAMS} streams x ${MAX_TOKENS} tokens takes little more memory than the first`, { timeout: FULL ? 1_500_000 : 300_000 }, async () => {
    engine = await createEngine({ model: 'baton-tiny', backend: 'wasm', prefill: 1, decode: 1, kv: { numBlocks: NUM_BLOCKS } });
    const e = engine;
    const prompts = mixedPrompts(STREAMS, 24, 60);
    const samples: Sample[] = [await sample(e, 'started')];
    const first = await load(e, prompts);
    samples.push(await sample(e, 'after load 1'));
    const second = await load(e, prompts);
    samples.push(await sample(e, 'after load 2'));
    const [start, afterFirst, afterSecond] = samples;
    const grewFirst = afterFirst.rss - start.rss;
    const grewSecond = afterSecond.rss - afterFirst.rss;
    console.log(
      `memory probe: ${STREAMS} streams x ${MAX_TOKENS} tokens, ${NUM_BLOCKS} KV blocks, 1P/1D threads, MiB\n${table(samples)}\n` +
        `memory probe: RSS +${mib(grewFirst)} MiB in load 1, +${mib(grewSecond)} MiB in load 2; streams ending in error: ${first.errors.length}, ${second.errors.length}\n` +
        `memory probe: 8-token requests sent while the pool was full: load 1 ${describeShorts(first.shorts)}; load 2 ${describeShorts(second.shorts)}\n` +
        `memory probe: long streams refused (could not start within queue.maxWaitMs) and sent again: load 1 ${first.refusedStreams}, load 2 ${second.refusedStreams}`,
    );
    expect(first.errors).toEqual([]);
    expect(second.errors).toEqual([]);
    expect(second.tokens).toBe(first.tokens);
    expect((await e.stats()).pool.used).toBe(0);
    for (const s of [first.shorts, second.shorts]) expect(s.other, 'short requests served or refused with OverloadedError').toEqual([]);
    // NOTE: generous: allocator noise and lazily returned pages move RSS by tens of MiB.
    expect(grewSecond, 'RSS growth of the second identical load').toBeLessThanOrEqual(Math.max(64 * MIB, grewFirst / 2));
    for (const a of afterSecond.actors) {
      const before = afterFirst.actors.find((b) => b.name === a.name)?.memory;
      expect(before, a.name).toBeDefined();
      expect(a.memory!.kernelWasm, `${a.name} wasm-kernel memory grew in the second load`).toBe(before!.kernelWasm);
      expect(a.memory!.tfjsWasm, `${a.name} tfjs-wasm heap grew in the second load`).toBe(before!.tfjsWasm);
    }
  });
});
