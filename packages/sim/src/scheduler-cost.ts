/**
 * Measures the engine scheduler's own decision time: the calls its submit and placement handlers
 * make per request (choosePrefill, admit, the best-TPOT scan with estimateDecodeTpotMs,
 * chooseDecode) over synthetic load tables of several sizes, fitted to
 * `baseUs + perInstanceUs × instances`, plus the length predictor's predict and learn calls (the
 * predictor actor shares the scheduler's control worker, so its time is the scheduler's too). The simulator charges this per request on a single
 * scheduler (one actor, so decisions queue behind each other).
 */
import { admit, chooseDecode, choosePrefill, estimateDecodeTpotMs, LengthPredictor, type DecodeLoad, type PrefillLoad } from '@baton/engine';
import type { SchedulerCost } from './profile.js';

/** Decision time per request at `instances` instances (half prefill, half decode), µs (median of rounds). */
export function timeDecisionUs(instances: number, rounds = 5): number {
  const n = Math.max(1, Math.floor(instances / 2));
  const prefill: PrefillLoad[] = Array.from({ length: n }, (_, i) => ({
    id: `prefill-${i}`, queuedPromptTokens: (i * 131) % 2048, queuedRequests: i % 7, tokensPerSecond: 5_000 + ((i * 17) % 900),
  }));
  const decode: DecodeLoad[] = Array.from({ length: n }, (_, i) => ({
    id: `decode-${i}`, running: i % 32, queued: i % 3, freeKvBlocks: 200 + ((i * 53) % 800), totalKvBlocks: 1024, predictedLongRunning: i % 4, stepMs: 4 + (i % 5),
  }));
  const req = { promptIds: Array.from({ length: 256 }, (_, i) => i % 256), maxTokens: 64 };
  const policy = { slo: { ttftMs: 1_000, tpotMs: 100 }, maxQueuedRequests: 256, maxQueuedPromptTokens: 65_536 };
  const predictor = new LengthPredictor({ seed: 0 });
  const calls = Math.max(50, Math.round(20_000 / n));
  let sink = 0;
  const samples: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    for (let k = 0; k < calls; k++) {
      const p = choosePrefill(req, prefill, () => 0);
      const predicted = predictor.predict(req.promptIds);
      let best: number | null = null;
      for (const d of decode) {
        const t = estimateDecodeTpotMs(d, { joining: 1 });
        if (t !== null && (best === null || t < best)) best = t;
      }
      const a = admit({ promptTokens: 256 }, { ttftMs: p?.ttftMs ?? 0, queueMs: p?.queueMs ?? 0, tpotMs: best, queuedRequests: 3, queuedPromptTokens: 700 }, policy);
      const d = chooseDecode(req, { isLong: (k & 1) === 0, expectedOutputTokens: 80 }, decode, { blockSize: 16, maxBatch: 32 });
      predictor.learn(req.promptIds, 40 + (k % 100));
      sink += (a.admitted ? 1 : 0) + (d?.blocksNeeded ?? 0) + predicted.bucket;
    }
    samples.push(((performance.now() - t0) * 1000) / calls);
  }
  if (sink < 0) throw new Error('unreachable');
  return median(samples);
}

/** Fits base + per-instance cost from decisions over 2, 64 and 512 instances. */
export function measureSchedulerCost(rounds = 5): SchedulerCost {
  const xs = [2, 64, 512];
  const ys = xs.map((n) => timeDecisionUs(n, rounds));
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  const slope = xs.reduce((a, x, i) => a + (x - mx) * (ys[i] - my), 0) / xs.reduce((a, x) => a + (x - mx) ** 2, 0);
  const perInstanceUs = Math.max(0, slope);
  return { baseUs: Math.max(0, my - perInstanceUs * mx), perInstanceUs };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}
