/**
 * Calibration: the uncontended latencies slowdown SLOs are multiples of — requests sent one at a
 * time to an idle engine (each waits for the previous one to finish), at a few prompt lengths
 * taken from the workload, with fresh random prompts (no prefix-cache hits).
 *
 * Invariants: exactly one request is in flight at any moment; a request that does not finish
 * fails the calibration (CalibrationError) instead of skewing the reference. Each length keeps
 * its fastest request (TTFT and TPOT): on a shared machine the fastest is the least disturbed,
 * i.e. the closest to uncontended; the TPOT is the median over lengths of those minima.
 */
import { requestMetrics, type Engine } from '@baton/engine';
import { createRng } from '@baton/model';
import { CalibrationError } from './bench-errors.js';
import type { UncontendedReference } from './slo-spec.js';
import { median } from './stats.js';
import type { Workload } from './workload.js';

/** Options of {@link calibrate}. */
export interface CalibrationOptions {
  /** Prompt lengths to measure TTFT at. */
  promptTokens: readonly number[];
  /** Requests per length (median). Default 3. */
  repeats?: number;
  /** Output tokens per request (TPOT sample). Default 32. */
  outputTokens?: number;
  seed?: number;
}

/** Measures the uncontended reference on an idle engine. */
export async function calibrate(engine: Engine, opts: CalibrationOptions): Promise<UncontendedReference> {
  const rng = createRng((opts.seed ?? 1) ^ 0xca11b);
  const repeats = opts.repeats ?? 3;
  const tpot: number[] = [];
  const ttft: Array<{ promptTokens: number; ttftMs: number }> = [];
  for (const n of [...new Set(opts.promptTokens)].sort((a, b) => a - b)) {
    const samples: number[] = [];
    const tpotHere: number[] = [];
    for (let i = 0; i < repeats; i++) {
      const prompt = Array.from({ length: n }, () => Math.floor(rng.next() * 256));
      const result = await engine.generate({ prompt, maxTokens: opts.outputTokens ?? 32, temperature: 0 }).result;
      const m = requestMetrics(result.timing);
      if (result.finishReason !== 'length' || m.ttftMs === null || m.tpotMs === null) {
        throw new CalibrationError(`a request of ${n} prompt tokens alone ended with "${result.finishReason}"${result.error === undefined || result.error === null ? '' : `: ${result.error.message}`}`);
      }
      samples.push(m.ttftMs);
      tpotHere.push(m.tpotMs);
    }
    ttft.push({ promptTokens: n, ttftMs: Math.min(...samples) });
    tpot.push(Math.min(...tpotHere));
  }
  return { ttft, tpotMs: median(tpot) };
}

/** Prompt lengths to calibrate at: the workload's 10th, 50th and 90th percentile and its maximum. */
export function calibrationLengths(workload: Workload): number[] {
  const lengths = workload.requests.map((r) => r.promptIds.length).sort((a, b) => a - b);
  const q = (p: number): number => lengths[Math.min(lengths.length - 1, Math.floor(p * lengths.length))];
  return [...new Set([q(0.1), q(0.5), q(0.9), lengths[lengths.length - 1]])];
}

/** The workload's median prompt length (the nominal prompt of a slowdown SLO). */
export function medianPrompt(workload: Workload): number {
  const lengths = workload.requests.map((r) => r.promptIds.length).sort((a, b) => a - b);
  return lengths[Math.floor(lengths.length / 2)];
}
