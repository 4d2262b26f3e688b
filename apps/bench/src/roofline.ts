/**
 * Roofline of the served model on this machine, measured in the bench's own thread before any
 * engine starts: one decode step (greedy, every sequence at context 256) against the batch size,
 * and one prefill against the prompt length, per backend. From it the regime of the run:
 * step(32) / step(1) near 1 means decode is memory-bound (a batch of 32 costs about what one
 * sequence costs: disaggregated decode can absorb many requests within a TPOT target); near 32
 * means compute-bound. prefill(256) / step(1) is how many decode steps one colocated 256-token
 * prefill stalls a running batch for.
 *
 * Invariants: every sequence and the model are released/disposed before it returns; a webgpu
 * measurement closes this thread's GPU host afterwards (the engines' actors open their own).
 */
import { ArrayKvBacking, closeBackend, createRng, initBackend, loadModel, type BackendName, type Gpt } from '@baton/model';
import { median } from './stats.js';

/** One backend's roofline. */
export interface Roofline {
  model: string;
  backend: BackendName;
  /** Context of every decode step. */
  contextTokens: number;
  decode: Array<{ batch: number; stepMs: number }>;
  prefill: Array<{ tokens: number; ms: number }>;
  /** step(32) / step(1) (or the largest batch measured). */
  decodeRegime: number;
  /** prefill(256) / step(1): decode steps one 256-token prefill takes. */
  prefillInSteps: number | null;
}

/** Options of {@link measureRoofline}. */
export interface RooflineOptions {
  model: string;
  backend: BackendName;
  /** Default 1, 2, 4, 8, 16, 32, 64. */
  batches?: readonly number[];
  /** Default 32, 64, 128, 256, 512 (capped by the model's positions). */
  prefillTokens?: readonly number[];
  /** Timed rounds (median per point), after one discarded round. Default 3. */
  reps?: number;
  contextTokens?: number;
  log?: (line: string) => void;
}

/** Measures one backend's roofline of `model`. */
export async function measureRoofline(opts: RooflineOptions): Promise<Roofline> {
  const reps = opts.reps ?? 3;
  const ctx = opts.contextTokens ?? 256;
  await initBackend(opts.backend);
  const m = await loadModel(opts.model);
  try {
    const max = m.config.nPositions;
    const batches = [...(opts.batches ?? [1, 2, 4, 8, 16, 32, 64])].sort((a, b) => a - b);
    const tokens = (opts.prefillTokens ?? [32, 64, 128, 256, 512]).filter((t) => t <= max);
    // NOTE: the machine may be shared and its speed drifts: points are measured in interleaved
    // rounds (every batch, then every prompt length, then again) and each reports its median.
    const seqs = decodeBackings(m, batches[batches.length - 1], ctx, (reps + 1) * batches.length + 2).map((b) => m.attach(b, { length: ctx }));
    const stepTimes = batches.map(() => [] as number[]);
    const prefillTimes = tokens.map(() => [] as number[]);
    try {
      for (const s of seqs) for (let l = 0; l < m.config.nLayer; l++) s.loadLayer(l);
      for (let round = 0; round <= reps; round++) {
        opts.log?.(`roofline ${opts.backend}: round ${round + 1}/${reps + 1} (the first is discarded)`);
        batches.forEach((batch, i) => {
          const t = timeOnce(() => void m.decode(seqs.slice(0, batch).map((seq, k) => ({ seq, token: (k * 7) % m.config.vocabSize }))));
          if (round > 0) stepTimes[i].push(t);
        });
        tokens.forEach((n, i) => {
          const t = timePrefill(m, n);
          if (round > 0) prefillTimes[i].push(t);
        });
      }
    } finally {
      for (const s of seqs) s.release();
    }
    const decode = batches.map((batch, i) => ({ batch, stepMs: median(stepTimes[i]) }));
    const prefill = tokens.map((n, i) => ({ tokens: n, ms: median(prefillTimes[i]) }));
    const one = decode.find((d) => d.batch === 1)?.stepMs ?? null;
    const big = decode.find((d) => d.batch === 32) ?? decode[decode.length - 1];
    const p256 = prefill.find((p) => p.tokens === 256)?.ms ?? null;
    return {
      model: opts.model, backend: opts.backend, contextTokens: ctx, decode, prefill,
      decodeRegime: one === null ? NaN : big.stepMs / one,
      prefillInSteps: one === null || p256 === null ? null : p256 / one,
    };
  } finally {
    m.dispose();
    if (opts.backend === 'webgpu') await closeBackend();
  }
}

/** Backings already holding `ctx` positions of K/V (random rows: as good as real ones for timing). */
function decodeBackings(m: Gpt, count: number, ctx: number, spare: number): ArrayKvBacking[] {
  const { nLayer, nEmbd } = m.config;
  const rng = createRng(2);
  const rows = Float32Array.from({ length: ctx * nEmbd }, () => rng.next() - 0.5);
  return Array.from({ length: count }, () => {
    const b = new ArrayKvBacking({ nLayer, nEmbd, capacity: ctx + spare });
    for (let l = 0; l < nLayer; l++) { b.write(l, 'k', 0, rows); b.write(l, 'v', 0, rows); }
    return b;
  });
}

function timePrefill(m: Gpt, n: number): number {
  const { nLayer, nEmbd, vocabSize } = m.config;
  const rng = createRng(n);
  const prompt = Array.from({ length: n }, () => Math.floor(rng.next() * vocabSize));
  const seq = m.attach(new ArrayKvBacking({ nLayer, nEmbd, capacity: n }));
  try {
    return timeOnce(() => void m.prefill(seq, prompt, { chunkSize: n }));
  } finally {
    seq.release();
  }
}

function timeOnce(f: () => void): number {
  const t = performance.now();
  f();
  return performance.now() - t;
}


/** The roofline as a table (one block per backend). */
export function formatRoofline(rooflines: readonly Roofline[]): string {
  const out: string[] = [];
  for (const r of rooflines) {
    const one = r.decode.find((d) => d.batch === 1)?.stepMs ?? r.decode[0]?.stepMs ?? NaN;
    out.push(`Roofline — ${r.model} on ${r.backend} (decode at context ${r.contextTokens}; medians):`);
    out.push(`  decode batch   ${r.decode.map((d) => String(d.batch).padStart(7)).join('')}`);
    out.push(`  step ms        ${r.decode.map((d) => d.stepMs.toFixed(2).padStart(7)).join('')}`);
    out.push(`  ms / sequence  ${r.decode.map((d) => (d.stepMs / d.batch).toFixed(2).padStart(7)).join('')}`);
    out.push(`  step / step(1) ${r.decode.map((d) => (d.stepMs / one).toFixed(2).padStart(7)).join('')}`);
    out.push(`  prefill tokens ${r.prefill.map((p) => String(p.tokens).padStart(8)).join('')}`);
    out.push(`  prefill ms     ${r.prefill.map((p) => p.ms.toFixed(1).padStart(8)).join('')}`);
    out.push(`  tokens / s     ${r.prefill.map((p) => ((1000 * p.tokens) / p.ms).toFixed(0).padStart(8)).join('')}`);
    const regime = r.decodeRegime < 4 ? 'memory-bound (batching decode is nearly free)' : r.decodeRegime < 12 ? 'between memory- and compute-bound' : 'compute-bound (batching decode buys little)';
    out.push(`  regime: step(32)/step(1) = ${r.decodeRegime.toFixed(2)}: ${regime}; a 256-token prefill = ${r.prefillInSteps === null ? '-' : r.prefillInSteps.toFixed(0)} decode steps at batch 1`);
    out.push('');
  }
  return out.join('\n');
}
