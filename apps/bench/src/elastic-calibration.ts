/**
 * The elastic bench's calibration: the speed of one instance of each role, measured at the start
 * of the run on a 1P:1D engine, and the SLO targets and phase rates derived from it.
 *
 * - TTFT target: 5x the TTFT of a median prefill-heavy prompt alone.
 * - Prefill capacity: prefill-heavy prompts per second one prefill instance sustains (8 at once,
 *   until the last first token).
 * - TPOT target: 1.5x the TPOT of 16 concurrent decode-heavy requests on one decode instance.
 * - Decode capacity: the output tokens per second one decode instance sustains within that target:
 *   the TPOT is also measured at `maxBatch` concurrent requests; when that meets the target the
 *   capacity is `maxBatch` / TPOT there, otherwise the batch that would just meet it (linear
 *   between the two measurements) over the target.
 * - Rates: `prefillLoad` x the prefill capacity for the prefill-heavy phase, `decodeLoad` x the
 *   decode capacity / the mean output length for the decode-heavy phase. A load between 1 and 2
 *   makes a phase need two instances of its role: one is overloaded, two are not.
 *
 * Invariants: every measurement uses prompts of its own (a repeated prompt would be served from
 * the prefix cache); the engine is closed on every path.
 */
import { createEngine, resolveOptions, type EngineOptionsInput, type SloTargets } from '@baton/engine';
import { BenchError } from './bench-errors.js';
import type { PhaseKind } from './elastic-workload.js';
import { median } from './stats.js';
import { generateWorkload } from './workload.js';

/** What the calibration measured and what the bench derives from it. */
export interface ElasticCalibration {
  slo: SloTargets;
  /** Requests per second of each phase. */
  rates: Record<PhaseKind, number>;
  ttftAloneMs: number;
  /** Prefill-heavy prompts per second one prefill instance sustains. */
  prefillPerS: number;
  tpot16Ms: number;
  /** Batch of the second TPOT measurement (the engine's `maxBatch`) and its TPOT. */
  tpotFull: { batch: number; ms: number };
  /** Output tokens per second one decode instance sustains within the TPOT target, and at which batch. */
  decodeTokensPerS: number;
  decodeBatchAtTarget: number;
  meanOutputTokens: number;
}

/** Decode capacity within `targetMs` from TPOTs measured at two batches (see the file header). */
export function decodeCapacity(t16: number, full: { batch: number; ms: number }, targetMs: number): { tokensPerS: number; batch: number } {
  if (!(t16 > 0) || !(full.ms > 0) || !(targetMs > 0)) throw new BenchError(`calibration: TPOTs must be positive (batch 16: ${t16} ms, batch ${full.batch}: ${full.ms} ms, target ${targetMs} ms)`, 'CALIBRATION_FAILED');
  if (full.ms <= targetMs || full.batch <= 16) return { tokensPerS: (full.batch / Math.min(full.ms, targetMs)) * 1000, batch: full.batch };
  // NOTE: t16 < target < full.ms here (the target is 1.5 x t16), so the slope is positive.
  const batch = 16 + ((full.batch - 16) * (targetMs - t16)) / (full.ms - t16);
  return { tokensPerS: (batch / targetMs) * 1000, batch };
}

const now = (): number => performance.timeOrigin + performance.now();

/** Measures one instance of each role now (1P:1D engine on `base`) and derives targets and rates. */
export async function calibrateElastic(base: EngineOptionsInput, seed: number, load: Record<PhaseKind, number>): Promise<ElasticCalibration> {
  const options = { ...base, prefill: 1, decode: 1 };
  const { maxBatch } = resolveOptions(options);
  const engine = await createEngine(options);
  try {
    const longs = generateWorkload({ mix: 'summarize', count: 12, seed: seed + 1_000 }).requests.map((r) => r.promptIds);
    const long = longs.slice(0, 4).sort((x, y) => x.length - y.length);
    const gen = generateWorkload({ mix: 'generate', count: 16 + maxBatch + 64, seed: seed + 1 }).requests;
    const one = async (prompt: number[], maxTokens: number): Promise<{ ttft: number; tpot: number | null }> => {
      const m = (await engine.generate({ prompt, maxTokens }).result).metrics;
      return { ttft: m.ttftMs ?? NaN, tpot: m.tpotMs };
    };
    const tpotOf = async (prompts: ReadonlyArray<{ promptIds: number[] }>): Promise<number> => {
      const batch = await Promise.all(prompts.map((r) => one(r.promptIds, 96)));
      return median(batch.flatMap((r) => (r.tpot === null ? [] : [r.tpot])));
    };
    await one(long[0], 2);
    const ttftAloneMs = median([await one(long[1], 1), await one(long[2], 1), await one(long[3], 1)].map((r) => r.ttft));
    const t0 = now();
    await Promise.all(longs.slice(4, 12).map((p) => one(p, 1)));
    const prefillPerS = 8_000 / (now() - t0);
    const tpot16Ms = await tpotOf(gen.slice(0, 16));
    const tpotFull = { batch: maxBatch, ms: await tpotOf(gen.slice(16, 16 + maxBatch)) };
    const slo = { ttftMs: Math.round(5 * ttftAloneMs), tpotMs: Math.round(1.5 * tpot16Ms * 10) / 10 };
    const cap = decodeCapacity(tpot16Ms, tpotFull, slo.tpotMs);
    // NOTE: the mean output of the decode-heavy mix as the bench draws it (a larger sample than the measurement's prompts).
    const sample = gen.slice(16 + maxBatch);
    const meanOutputTokens = sample.reduce((n, r) => n + r.maxTokens, 0) / sample.length;
    return {
      slo,
      rates: { 'prefill-heavy': load['prefill-heavy'] * prefillPerS, 'decode-heavy': (load['decode-heavy'] * cap.tokensPerS) / meanOutputTokens },
      ttftAloneMs, prefillPerS, tpot16Ms, tpotFull, decodeTokensPerS: cap.tokensPerS, decodeBatchAtTarget: cap.batch, meanOutputTokens,
    };
  } finally {
    await engine.close({ deadlineMs: 0 });
  }
}
