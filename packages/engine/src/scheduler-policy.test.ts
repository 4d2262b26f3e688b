import { describe, expect, it } from 'vitest';
import {
  chooseDecode,
  choosePrefill,
  estimateDecodeTpotMs,
  sharedRate,
  sharedSlowdown,
  type DecodeLoad,
  type PrefillLoad,
  type TransferRule,
} from './scheduler-policy.js';

const req = (promptTokens: number, maxTokens = 64) => ({
  promptIds: Array.from({ length: promptTokens }, (_, i) => i % 256),
  maxTokens,
});

describe('choosePrefill', () => {
  const loads: PrefillLoad[] = [
    { id: 'prefill-0', queuedPromptTokens: 2000, queuedRequests: 4, tokensPerSecond: 10_000 }, // 200 ms queue
    { id: 'prefill-1', queuedPromptTokens: 500, queuedRequests: 1, tokensPerSecond: 5_000 }, // 100 ms queue
  ];

  it('picks the least estimated TTFT without cache hits', () => {
    // p0: 200 + 1000/10000 s = 300 ms; p1: 100 + 1000/5000 s = 300 ms -> tie, fewer queued requests wins
    const c = choosePrefill(req(1000), loads, () => 0)!;
    expect(c.actorId).toBe('prefill-1');
    expect(c).toMatchObject({ queueMs: 100, prefillMs: 200, ttftMs: 300, cachedTokens: 0 });
  });

  it('weighs a prefix-cache hit against queue length (Mooncake)', () => {
    // p0 holds 900 cached tokens: 200 + 100/10000 s = 210 ms beats p1's 300 ms
    const c = choosePrefill(req(1000), loads, (id) => (id === 'prefill-0' ? 900 : 0))!;
    expect(c).toMatchObject({ actorId: 'prefill-0', cachedTokens: 900, ttftMs: 210 });
  });

  it('always recomputes at least the last prompt token and ignores bogus cache answers', () => {
    const full = choosePrefill(req(10), [loads[0]], () => 10)!;
    expect(full.cachedTokens).toBe(9);
    expect(choosePrefill(req(10), [loads[0]], () => Number.NaN)!.cachedTokens).toBe(0);
    expect(choosePrefill(req(10), [loads[0]], () => -5)!.cachedTokens).toBe(0);
  });

  it('returns null with no actors and breaks exact ties by id', () => {
    expect(choosePrefill(req(5), [], () => 0)).toBeNull();
    const same = (id: string): PrefillLoad => ({ id, queuedPromptTokens: 0, queuedRequests: 0, tokensPerSecond: 1000 });
    expect(choosePrefill(req(5), [same('b'), same('a')], () => 0)!.actorId).toBe('a');
  });
});

describe('choosePrefill: a hot holder with a long queue', () => {
  // Both weighed at one (pooled) rate of 2,000 tokens/s: the queue term is time (tokens still to compute / rate).
  const rate = 2_000;
  const prompt = req(600);
  const holderHolds = (id: string): number => (id === 'holder' ? 560 : 0);

  it('loses to an idle instance when recomputing the prefix is cheaper than waiting', () => {
    // holder: 1,200 queued tokens = 600 ms + 40 / 2000 s = 620 ms; idle: 0 + 600 / 2000 s = 300 ms.
    const loads: PrefillLoad[] = [
      { id: 'holder', queuedPromptTokens: 1_200, queuedRequests: 3, tokensPerSecond: rate },
      { id: 'idle', queuedPromptTokens: 0, queuedRequests: 0, tokensPerSecond: rate },
    ];
    const c = choosePrefill(prompt, loads, holderHolds)!;
    expect(c).toMatchObject({ actorId: 'idle', cachedTokens: 0, transfer: null });
    expect(c.ttftMs).toBeCloseTo(300);
  });

  it('keeps the turn on the holder while its queue is shorter than the recompute', () => {
    // holder: 400 tokens = 200 ms + 20 ms = 220 ms < idle's 300 ms.
    const loads: PrefillLoad[] = [
      { id: 'holder', queuedPromptTokens: 400, queuedRequests: 3, tokensPerSecond: rate },
      { id: 'idle', queuedPromptTokens: 0, queuedRequests: 0, tokensPerSecond: rate },
    ];
    expect(choosePrefill(prompt, loads, holderHolds)).toMatchObject({ actorId: 'holder', cachedTokens: 560 });
  });

  it('with the transfer rule, an idle instance pulls the prefix instead of recomputing it when that is faster', () => {
    const loads: PrefillLoad[] = [
      { id: 'holder', queuedPromptTokens: 1_200, queuedRequests: 3, tokensPerSecond: rate },
      { id: 'idle', queuedPromptTokens: 0, queuedRequests: 0, tokensPerSecond: rate },
    ];
    const rule: TransferRule = { remoteFor: (id) => (id === 'idle' ? { source: 'holder', tokens: 560 } : null), tokensPerSecond: 28_000 };
    // idle: 560 / 28000 s = 20 ms + 40 / 2000 s = 20 ms = 40 ms.
    const c = choosePrefill(prompt, loads, holderHolds, rule)!;
    expect(c).toMatchObject({ actorId: 'idle', cachedTokens: 560, transfer: { source: 'holder', tokens: 560 } });
    expect(c.ttftMs).toBeCloseTo(40);
  });
});

describe('choosePrefill with Mooncake\'s transfer rule', () => {
  // p0 holds 900 tokens but has a 200 ms queue; p1 holds nothing and has a 100 ms queue.
  const loads: PrefillLoad[] = [
    { id: 'prefill-0', queuedPromptTokens: 2000, queuedRequests: 4, tokensPerSecond: 10_000 },
    { id: 'prefill-1', queuedPromptTokens: 500, queuedRequests: 1, tokensPerSecond: 5_000 },
  ];
  const cached = (id: string): number => (id === 'prefill-0' ? 900 : 0);
  const held = (tokensPerSecond: number): TransferRule => ({ remoteFor: (id) => (id === 'prefill-1' ? { source: 'prefill-0', tokens: 900 } : null), tokensPerSecond });

  it('moves the prefix when queue + transfer + the rest beats both recomputing and queueing behind the holder', () => {
    // p1 with transfer: 100 + 900/90000 s (10 ms) + 100/5000 s (20 ms) = 130 ms < p0's 210 ms and p1's 300 ms.
    const c = choosePrefill(req(1000), loads, cached, held(90_000))!;
    expect(c).toMatchObject({ actorId: 'prefill-1', cachedTokens: 900, queueMs: 100, transferMs: 10, prefillMs: 20, ttftMs: 130 });
    expect(c.transfer).toEqual({ source: 'prefill-0', tokens: 900 });
  });

  it('recomputes when moving is slower than computing, and stays with the holder when that is best', () => {
    // 900 tokens at 4000 tokens/s = 225 ms of transfer > 180 ms of p1 prefill: no transfer; p0 (210 ms) wins.
    const slow = choosePrefill(req(1000), loads, cached, held(4_000))!;
    expect(slow).toMatchObject({ actorId: 'prefill-0', transfer: null, transferMs: 0, ttftMs: 210 });
    const none = choosePrefill(req(1000), loads, cached, { remoteFor: () => null, tokensPerSecond: 1e9 })!;
    expect(none).toMatchObject({ actorId: 'prefill-0', transfer: null });
  });

  it('never moves more than the prompt less its last token, nor a prefix no longer than the local one', () => {
    const c = choosePrefill(req(10), [loads[1]], () => 0, { remoteFor: () => ({ source: 'x', tokens: 64 }), tokensPerSecond: 1e9 })!;
    expect(c.transfer).toEqual({ source: 'x', tokens: 9 });
    const shorter = choosePrefill(req(100), [loads[1]], () => 48, { remoteFor: () => ({ source: 'x', tokens: 32 }), tokensPerSecond: 1e9 })!;
    expect(shorter).toMatchObject({ cachedTokens: 48, transfer: null });
  });
});

describe('chooseDecode', () => {
  const opts = { blockSize: 16, maxBatch: 8 };
  const d = (id: string, o: Partial<DecodeLoad>): DecodeLoad => ({
    id,
    running: 0,
    queued: 0,
    freeKvBlocks: 100,
    totalKvBlocks: 100,
    predictedLongRunning: 0,
    stepMs: 10,
    ...o,
  });

  it('picks the least pressure for ordinary requests', () => {
    const loads = [d('decode-0', { running: 6 }), d('decode-1', { running: 2 })];
    // decode-1: batch fill (2+0+1)/8 = 0.375; KV fill (0 + ceil(100/16)=7)/100 = 0.07
    expect(chooseDecode(req(36), null, loads, opts)).toEqual({ actorId: 'decode-1', blocksNeeded: 3, pressure: 0.375 });
  });

  it('breaks a tie of KV pressure (actors sharing one pool) by the emptier batch', () => {
    // Shared pool: both report KV fill (60 + 7)/100 = 0.67 > any batch fill, so pressure ties.
    const shared = { freeKvBlocks: 40, totalKvBlocks: 100 };
    const loads = [d('decode-0', { ...shared, running: 3 }), d('decode-1', { ...shared, running: 1, queued: 1 }), d('decode-2', { ...shared, running: 1 })];
    expect(chooseDecode(req(36), null, loads, opts)).toMatchObject({ actorId: 'decode-2' });
  });

  it('counts expected KV footprint in pressure', () => {
    const loads = [d('decode-0', { running: 1, freeKvBlocks: 20 }), d('decode-1', { running: 3, freeKvBlocks: 90 })];
    // decode-0: kv (80 + ceil((36+64)/16)=7)/100 = 0.87 > decode-1: max(0.5, 0.17) = 0.5
    expect(chooseDecode(req(36), null, loads, opts)!.actorId).toBe('decode-1');
  });

  it('spreads predicted-long requests across actors (TetriInfer)', () => {
    const loads = [
      d('decode-0', { running: 1, predictedLongRunning: 1 }),
      d('decode-1', { running: 4, predictedLongRunning: 0 }),
    ];
    const long = { isLong: true, expectedOutputTokens: 600 };
    const short = { isLong: false, expectedOutputTokens: 10 };
    expect(chooseDecode(req(20, 1000), long, loads, opts)!.actorId).toBe('decode-1');
    expect(chooseDecode(req(20, 1000), short, loads, opts)!.actorId).toBe('decode-0');
  });

  it('does not send a long request to a full actor just because it has no long ones', () => {
    const loads = [
      d('decode-0', { running: 2, predictedLongRunning: 2 }),
      d('decode-1', { running: 8, predictedLongRunning: 0 }),
    ];
    expect(chooseDecode(req(20), { isLong: true, expectedOutputTokens: 600 }, loads, opts)!.actorId).toBe('decode-0');
  });

  it('returns null when no actor has KV room for the prompt', () => {
    const loads = [d('decode-0', { freeKvBlocks: 2 }), d('decode-1', { freeKvBlocks: 0 })];
    expect(chooseDecode(req(48), null, loads, opts)).toBeNull(); // needs ceil(49/16) = 4 blocks
    expect(chooseDecode(req(31), null, loads, opts)!.actorId).toBe('decode-0'); // needs ceil(32/16) = 2
  });
});

describe('estimateDecodeTpotMs', () => {
  it('scales the measured step by batch growth with the given elasticity', () => {
    const load: DecodeLoad = { id: 'd', running: 4, queued: 0, freeKvBlocks: 1, totalKvBlocks: 1, predictedLongRunning: 0, stepMs: 20 };
    expect(estimateDecodeTpotMs(load, { joining: 4, batchElasticity: 1 })).toBe(40);
    expect(estimateDecodeTpotMs(load, { joining: 12, batchElasticity: 0.5 })).toBe(40);
    expect(estimateDecodeTpotMs({ ...load, running: 0 }, { batchElasticity: 1 })).toBe(20);
    expect(estimateDecodeTpotMs({ ...load, stepMs: null })).toBeNull();
  });
});

describe('sharedRate: prefill actors sharing a machine\'s cores', () => {
  const on = (id: string, queuedRequests: number, machine?: string): PrefillLoad => ({
    id, queuedPromptTokens: 100 * queuedRequests, queuedRequests, tokensPerSecond: 1_000, ...(machine === undefined ? {} : { machine: { id: machine, cores: 2 } }),
  });

  it('stretches each actor by (busy actors on its machine, itself included) / cores, never below 1; other machines and GPU actors do not count', () => {
    const loads = [on('p0', 2, 'a'), on('p1', 1, 'a'), on('p2', 0, 'a'), on('p3', 3, 'b'), on('p4', 5)];
    expect(loads.map((l) => sharedSlowdown(l, loads))).toEqual([1, 1, 1.5, 1, 1]);
    expect(sharedRate(loads).map((l) => l.tokensPerSecond)).toEqual([1_000, 1_000, 1_000 / 1.5, 1_000, 1_000]);
  });

  it('an idle actor beside busy ones on a saturated machine no longer wins on its empty queue alone', () => {
    // p0 holds 900 of the 1000-token prompt with 1000 tokens queued (1100 ms vs p3's 1000 ms alone);
    // p1 and p2 (same 2 cores) are busy too: p0 runs at 2/3 speed (1650 ms), p3 would at 2/4 (2000 ms).
    const loads = [on('p0', 10, 'a'), on('p1', 5, 'a'), on('p2', 5, 'a'), on('p3', 0, 'a')];
    const credit = (id: string) => (id === 'p0' ? 900 : 0);
    expect(choosePrefill(req(1000), loads, credit)?.actorId).toBe('p3');
    const shared = choosePrefill(req(1000), sharedRate(loads), credit);
    expect(shared?.actorId).toBe('p0');
    expect(shared?.ttftMs).toBeCloseTo(1650);
  });
});
