/**
 * The engine probe of `baton profile`: runs a real engine (1 prefill + 1 decode actor on threads,
 * the profile's model and backend, the engine's default chunk size) and times requests end to end
 * from the engine's own timing records, against what the profile's model calls predict for them:
 * lone requests of several prompt lengths (the path to prefill, the prefill step, the handoff gap,
 * decode steps at batch 1), then bursts of short prompts decoded together (decode steps at larger
 * batches, timed while every sequence of the burst is in the batch and prefill is idle). The
 * differences are fitted into an {@link EngineOverhead}.
 *
 * Invariants: the engine is closed before it returns, also on failure; requests are seeded and
 * distinct (no prefix-cache hits); a model the engine cannot load by name (`baton-LxW` shapes)
 * gives null.
 */
import { createEngine, DEFAULT_ENGINE_OPTIONS, type Engine, type RequestTimingRecord } from '@baton/engine';
import { BUILTIN_MODELS, type BackendName } from '@baton/model';
import { fitDecodeOverhead, fitPrefillOverhead, type EngineOverhead, type OverheadPoint } from './engine-overhead.js';
import { tokensOf } from './profile-rigs.js';
import { chunkedPrefillMs } from './sim-batch.js';
import type { StepTimes } from './step-times.js';

/** What the probe needs to know about the model and how the simulator already charges the path. */
export interface ProbeOptions {
  model: string;
  backend: BackendName;
  vocabSize: number;
  nPositions: number;
  /** Fewer repetitions and one burst size. */
  quick?: boolean;
  /** The profile's costs so far (model calls, KV load, hop, decision time). */
  times: StepTimes;
  onProgress?: (line: string) => void;
}

const LONE_PROMPTS = [32, 128, 256, 512];
const LONE_OUTPUT = 24;
const BURST_PROMPT = 16;
const BURST_OUTPUT = 96;

/** True when the engine can load `model` by name (a built-in or a checkpoint directory, not a `baton-LxW` shape). */
export function engineCanLoad(model: string): boolean {
  return BUILTIN_MODELS.includes(model) || !/^baton-\d+x\d+$/.test(model);
}

/** Measures the engine's path costs on this machine; null when the engine cannot run `model`. */
export async function measureEngineOverhead(opts: ProbeOptions): Promise<EngineOverhead | null> {
  if (!engineCanLoad(opts.model)) return null;
  const log = opts.onProgress ?? (() => {});
  const t = opts.times;
  const chunk = DEFAULT_ENGINE_OPTIONS.prefillChunkSize;
  const engine = await createEngine({ mode: 'disaggregated', prefill: 1, decode: 1, slo: null, backend: opts.backend, model: opts.model });
  let seed = 7_000;
  const prompt = (n: number): number[] => tokensOf(n, seed++, opts.vocabSize);
  try {
    for (let i = 0; i < 3; i++) await result(engine, prompt(128), 16);
    const reps = opts.quick ? 2 : 4;
    const lengths = LONE_PROMPTS.filter((n) => n + LONE_OUTPUT + 8 <= opts.nPositions);
    const lone = lengths.map(() => [] as RequestTimingRecord[]);
    for (let r = 0; r < reps; r++) {
      // NOTE: lengths interleaved per round: a burst of load from elsewhere falls on all of them.
      for (let i = 0; i < lengths.length; i++) lone[i].push(await result(engine, prompt(lengths[i]), LONE_OUTPUT));
    }
    const bursts = (opts.quick ? [8] : [4, 8, 16]).filter((b) => b <= DEFAULT_ENGINE_OPTIONS.maxBatch);
    const burstRecords: RequestTimingRecord[][] = [];
    for (const b of bursts) burstRecords.push(await Promise.all(Array.from({ length: b }, () => result(engine, prompt(BURST_PROMPT), BURST_OUTPUT))));

    const points: OverheadPoint[] = [];
    lengths.forEach((n, i) => {
      points.push({ kind: 'prefill', size: n, context: n, modelMs: chunkedPrefillMs(t, n, 0, chunk), engineMs: median(lone[i].map((rec) => rec.tokenTimesMs[0] - (rec.prefillStartMs ?? rec.arrivalMs))) });
      const mid = n + Math.floor(LONE_OUTPUT / 2);
      const loneGaps = lone[i].flatMap((rec) => gaps(rec.tokenTimesMs, 2));
      points.push({ kind: 'decode', size: 1, context: mid, modelMs: t.decodeMs(1, mid), engineMs: median(loneGaps), engineMeanMs: mean(loneGaps) });
    });
    bursts.forEach((b, i) => {
      const w = burstWindow(burstRecords[i]);
      if (w === null) return;
      const context = BURST_PROMPT + w.meanIndex;
      points.push({ kind: 'decode', size: b, context, modelMs: t.decodeMs(b, b * context), engineMs: w.gapMs, engineMeanMs: w.meanGapMs });
    });
    const prefill = fitPrefillOverhead(points);
    // NOTE: a decode step's extra time grows with the sequences in it, not with the model call's
    // time (on the 2-core VM: +0.1 ms at batch 1 at every context, +5.5 ms at batch 16).
    const decode = fitDecodeOverhead(points);
    const all = lone.flat();
    // NOTE: what the simulator does not already charge: beyond two hops and the decision (path), and
    // beyond one hop, the profile's KV load and one engine decode step (handoff).
    const pathMs = Math.max(0, median(all.map((rec) => (rec.prefillStartMs ?? rec.arrivalMs) - rec.arrivalMs)) - 2 * t.hopMs - t.schedulerUs(2) / 1000);
    const handoffMs = Math.max(0, median(all.map((rec) => {
      const step = t.decodeMs(1, rec.promptTokens + 1) + decode.fixed + decode.scale;
      return rec.tokenTimesMs[1] - rec.tokenTimesMs[0] - step - t.hopMs - t.transferMs(rec.promptTokens);
    })));
    const overhead: EngineOverhead = {
      pathMs, prefillFixedMs: prefill.fixed, prefillScale: prefill.scale, handoffMs, decodeFixedMs: decode.fixed, decodePerSeqMs: decode.scale, points,
    };
    for (const p of points) log(`  ${p.kind} ${p.kind === 'prefill' ? `${p.size} tokens` : `batch ${p.size} at ${p.context}`}: model ${p.modelMs.toFixed(2)} ms, engine ${p.engineMs.toFixed(2)} ms${p.engineMeanMs === undefined ? '' : ` (mean ${p.engineMeanMs.toFixed(2)} ms)`}`);
    return overhead;
  } finally {
    await engine.close({ deadlineMs: 2_000 });
  }
}

/** One request's timing record (fails on a request that did not run to its length). */
async function result(engine: Engine, promptIds: number[], maxTokens: number): Promise<RequestTimingRecord> {
  const r = await engine.generate({ prompt: promptIds, maxTokens, temperature: 0 }).result;
  if (r.finishReason === 'error' || r.timing.tokenTimesMs.length < Math.min(maxTokens, 4)) {
    throw new Error(`engine probe: a request ended with ${r.finishReason} after ${r.timing.tokenTimesMs.length} tokens${r.error === null ? '' : ` (${r.error.message})`}`);
  }
  return r.timing;
}

/** Gaps between consecutive token times from token `from` on. */
function gaps(times: readonly number[], from: number): number[] {
  const out: number[] = [];
  for (let i = Math.max(1, from + 1); i < times.length; i++) out.push(times[i] - times[i - 1]);
  return out;
}

/**
 * The span where every sequence of a burst is decoding together (after the last one's second
 * token, before the first one's last): the median and mean gap of any sequence's tokens inside it,
 * and the mean output index there. Null when the span holds fewer than three steps.
 */
function burstWindow(records: readonly RequestTimingRecord[]): { gapMs: number; meanGapMs: number; meanIndex: number } | null {
  const from = Math.max(...records.map((r) => r.tokenTimesMs[1] ?? Infinity));
  const to = Math.min(...records.map((r) => r.tokenTimesMs[r.tokenTimesMs.length - 1]));
  const inside: number[] = [];
  const indices: number[] = [];
  for (const r of records) {
    const ts = r.tokenTimesMs;
    for (let i = 1; i < ts.length; i++) {
      if (ts[i - 1] >= from && ts[i] <= to) {
        inside.push(ts[i] - ts[i - 1]);
        indices.push(i);
      }
    }
  }
  if (inside.length < 3 * records.length) return null;
  return { gapMs: median(inside), meanGapMs: mean(inside), meanIndex: indices.reduce((a, b) => a + b, 0) / indices.length };
}

function mean(xs: readonly number[]): number {
  return xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length;
}

function median(xs: readonly number[]): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}
