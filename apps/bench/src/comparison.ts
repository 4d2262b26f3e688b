/**
 * The comparison `baton bench` runs: the disaggregated P:D split chosen by trying every split, the
 * chunked baseline's chunk size tuned by trying a few, colocated and chunked on the same number of
 * model threads (and the same devices) as disaggregated, every mode interleaved in each of `reps`
 * repetitions, and optionally the admission check (disaggregated with early rejection on, on the
 * same arrivals). With slowdown SLOs the uncontended latencies are measured first on the first
 * engine started (a disaggregated one when that mode is compared), idle.
 *
 * Invariants: every engine started here is closed before this returns or throws; at most the kept
 * rigs plus one trial rig are alive at once; trials run one at a time at the tuning rate.
 */
import type { EngineOptionsInput } from '@baton/engine';
import { checkAdmission, type AdmissionCheck } from './admission-check.js';
import type { BenchArgs, BenchMode } from './bench-args.js';
import { runSuite, type SuiteRates, type SuiteResult } from './bench-suite.js';
import { calibrate, calibrationLengths, medianPrompt } from './calibration.js';
import { repFigures } from './comparison-report.js';
import { rateFigures } from './rate-sweep-report.js';
import { sloScaleSweep } from './goodput.js';
import { startRig, type Rig, type RigContext, type RigSpec } from './rig.js';
import { fixedSlo, slowdownSlo, type SloSpec, type UncontendedReference } from './slo-spec.js';

/** What the comparison needs. */
export interface ComparisonOptions {
  modes: readonly BenchMode[];
  slo: BenchArgs['slo'];
  rates: SuiteRates;
  splits: BenchArgs['splits'];
  colocated: number;
  /** prefillChunkSize of every mode (null: the engine default) */
  chunk: number | null;
  /** Chunk sizes the chunked baseline tries. */
  chunks: readonly number[];
  tuneRate: number | null;
  reps: number;
  admission: boolean;
  /** Engine options every rig shares (model, backends, prefillNice). */
  engine: Pick<EngineOptionsInput, 'model' | 'backend' | 'prefillBackend' | 'decodeBackend' | 'prefillNice' | 'placement'>;
  rig: RigContext;
}

/** One trial of the split search or chunk tuning. */
export interface Trial {
  label: string;
  attainment: number;
  /** Tightest SLO scale meeting 90% at the tuning rate (null: none, or the run stopped early). */
  tightestScale: number | null;
  tpotP90Ms: number | null;
  ttftP90Ms: number | null;
  chosen: boolean;
}

/** Everything measured. */
export interface ComparisonResult {
  slo: SloSpec;
  reference: UncontendedReference | null;
  /** Label of the rig the reference was measured on. */
  referenceRig: string | null;
  tuneRate: number;
  splitTrials: Trial[];
  chunkTrials: Trial[];
  /** The rigs compared (labels), by mode. */
  rigs: Array<{ mode: BenchMode; label: string; workers: string }>;
  reps: SuiteResult[];
  /** Per repetition, when requested and disaggregated is compared. */
  admission: AdmissionCheck[] | null;
}

/** Runs the whole comparison. */
export async function runComparison(opts: ComparisonOptions): Promise<ComparisonResult> {
  const alive = new Set<Rig>();
  const start = async (spec: RigSpec): Promise<Rig> => {
    const rig = await startRig(spec, opts.rig);
    alive.add(rig);
    return rig;
  };
  const close = async (rig: Rig): Promise<void> => {
    alive.delete(rig);
    await rig.close();
  };
  try {
    const tuneRate = opts.tuneRate ?? (opts.rates.kind === 'list' ? opts.rates.rates[0] : opts.rates.start);
    const blocks = Math.max(1024, 256 * opts.colocated);
    const base = (mode: BenchMode, extra: EngineOptionsInput): EngineOptionsInput => ({
      ...opts.engine, mode, slo: null, kv: { numBlocks: blocks },
      ...(opts.chunk === null ? {} : { prefillChunkSize: opts.chunk, tokenBudget: Math.max(512, opts.chunk) }),
      ...extra,
    });
    const disaggSpec = (p: { prefill: number; decode: number }, admission: SloSpec | null = null): RigSpec => ({
      label: `disaggregated ${p.prefill}P+${p.decode}D${admission === null ? '' : ' +admission'}`, mode: 'disaggregated', workers: `${p.prefill}P+${p.decode}D`,
      engine: base('disaggregated', { prefill: p.prefill, decode: p.decode, ...(admission === null ? {} : { slo: admission.nominal }) }),
    });
    let slo: SloSpec | null = opts.slo.kind === 'fixed' ? fixedSlo(opts.slo) : null;
    let reference: UncontendedReference | null = null;
    let referenceRig: string | null = null;
    const ensureSlo = async (rig: Rig): Promise<SloSpec> => {
      if (slo !== null) return slo;
      opts.rig.log(`[${rig.spec.label}] measuring uncontended latencies (one request at a time)`);
      reference = await calibrate(rig.engine, { promptTokens: calibrationLengths(opts.rig.workload), seed: 1 });
      referenceRig = rig.spec.label;
      const k = opts.slo.kind === 'scale' ? opts.slo : { k: 1, ttftK: 1 };
      slo = slowdownSlo({ ttft: k.ttftK, tpot: k.k }, reference, medianPrompt(opts.rig.workload));
      opts.rig.log(`SLO: ${slo.label}`);
      return slo;
    };
    const score = async (rig: Rig, s: SloSpec): Promise<Trial> => {
      const run = await rig.measure(tuneRate, s);
      return {
        label: rig.spec.label, attainment: run.attainment, chosen: false,
        tightestScale: run.stoppedEarly ? null : sloScaleSweep({ records: run.records, slo: s }).tightestScale,
        tpotP90Ms: run.summary.tpotMs.p90, ttftP90Ms: run.summary.ttftMs.p90,
      };
    };
    /** Starts each candidate in turn, scores it at the tuning rate, keeps the best one running. */
    const searchBest = async (specs: readonly RigSpec[]): Promise<{ rig: Rig; trials: Trial[] }> => {
      if (specs.length === 1) {
        const rig = await start(specs[0]);
        await ensureSlo(rig);
        return { rig, trials: [] };
      }
      const trials: Trial[] = [];
      let best: { rig: Rig; trial: Trial } | null = null;
      for (const spec of specs) {
        const rig = await start(spec);
        const t = await score(rig, await ensureSlo(rig));
        trials.push(t);
        opts.rig.log(`[${spec.label}] trial: attainment ${(t.attainment * 100).toFixed(0)}%, tightest SLO scale ${t.tightestScale ?? '-'}`);
        if (best === null || better(t, best.trial)) {
          if (best !== null) await close(best.rig);
          best = { rig, trial: t };
        } else await close(rig);
      }
      best!.trial.chosen = true;
      return { rig: best!.rig, trials };
    };
    const rigs: Rig[] = [];
    let split = opts.splits[0];
    let splitTrials: Trial[] = [];
    if (opts.modes.includes('disaggregated')) {
      const found = await searchBest(opts.splits.map((p) => disaggSpec(p)));
      splitTrials = found.trials;
      split = opts.splits.find((p) => disaggSpec(p).label === found.rig.spec.label) ?? split;
      rigs.push(found.rig);
    }
    const sameDevices = { prefill: split.prefill };
    if (opts.modes.includes('colocated')) {
      const rig = await start({ label: `colocated x${opts.colocated}`, mode: 'colocated', workers: `${opts.colocated}x colocated`, engine: base('colocated', { colocated: opts.colocated, ...sameDevices }) });
      await ensureSlo(rig);
      rigs.push(rig);
    }
    let chunkTrials: Trial[] = [];
    if (opts.modes.includes('chunked')) {
      const specs = opts.chunks.map((c): RigSpec => ({
        label: `chunked x${opts.colocated} c=${c}`, mode: 'chunked', workers: `${opts.colocated}x chunked, chunk ${c}`,
        engine: base('chunked', { colocated: opts.colocated, ...sameDevices, prefillChunkSize: c, tokenBudget: Math.max(512, c) }),
      }));
      const found = await searchBest(specs);
      chunkTrials = found.trials;
      rigs.push(found.rig);
    }
    const spec = slo as SloSpec | null;
    if (spec === null) throw new RangeError('no mode to compare');
    const admit = opts.admission && opts.modes.includes('disaggregated') ? await start(disaggSpec(split, spec)) : null;
    const reps: SuiteResult[] = [];
    const admission: AdmissionCheck[] = [];
    for (let r = 0; r < opts.reps; r++) {
      opts.rig.log(`repetition ${r + 1}/${opts.reps}`);
      const result = await runSuite({ rigs: admit === null ? rigs : [...rigs, admit], slo: spec, rates: opts.rates, rotation: r });
      const main = result.modes.filter((m) => !m.label.endsWith('+admission'));
      const on = result.modes.find((m) => m.label.endsWith('+admission'));
      const off = main.find((m) => m.mode === 'disaggregated');
      if (on !== undefined && off !== undefined) admission.push(checkAdmission(on.runs, off.runs, spec.nominal));
      const kept = (_: unknown, i: number): boolean => !result.modes[i].label.endsWith('+admission');
      const rep = { ...result, modes: main, sweeps: result.sweeps.filter(kept), byRate: result.byRate.map((b) => ({ rate: b.rate, sweeps: b.sweeps.filter(kept) })) };
      reps.push(rep);
      const f = repFigures(rep);
      opts.rig.log(`repetition ${r + 1}: ${main.map((m) => `${m.mode} goodput ${f.goodput[m.mode] ?? `< ${f.lowestRate[m.mode]}`}, scale ${f.tightestScale[m.mode] ?? '-'}`).join('; ')}`);
      // NOTE: also per rate, so a run cut short (a time limit) still leaves every finished repetition's sweep in the log.
      if (rep.byRate.length > 1) opts.rig.log(`repetition ${r + 1} tightest scale by rate: ${rateFigures(rep).map((g) => `${g.rate} req/s ${main.map((m) => `${m.mode} ${g.tightestScale[m.mode] ?? '-'}`).join(', ')}`).join('; ')}`);
    }
    return {
      slo: spec, reference, referenceRig, tuneRate, splitTrials, chunkTrials,
      rigs: rigs.map((g) => ({ mode: g.spec.mode, label: g.spec.label, workers: g.spec.workers })),
      reps, admission: admit === null ? null : admission,
    };
  } finally {
    await Promise.all([...alive].map((g) => g.close()));
  }
}

/** Trial order: tighter SLO scale, then higher attainment, then lower TPOT p90. */
function better(a: Trial, b: Trial): boolean {
  const sa = a.tightestScale ?? Infinity;
  const sb = b.tightestScale ?? Infinity;
  if (sa !== sb) return sa < sb;
  if (a.attainment !== b.attainment) return a.attainment > b.attainment;
  return (a.tpotP90Ms ?? Infinity) < (b.tpotP90Ms ?? Infinity);
}

