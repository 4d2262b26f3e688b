/**
 * `npm run bench:peers`: Baton's CPU path against onnxruntime-node on the same weights. For each
 * bench model (baton-tiny 4x256 and baton-8x512, seeded random weights) the same checkpoint
 * tensors become an ONNX GPT-2 graph (gpt2-onnx.ts) in two variants: K/V outputs of the whole
 * context ('full', as Hugging Face exports do) and of the new rows only ('new-rows'); each runs in
 * sessions of 1 and 2 intra-op threads. Logits are checked first (1e-4 relative, prefill and
 * decode); then prefill 512 and one decode step at context 256 (batch 1, 8, 32) are timed in
 * interleaved rounds, Baton and the four ORT runs alternating, so all see the same machine load.
 * Reports medians, the spread (25th-75th percentile) and Baton / ORT-1-thread-new-rows ratios of
 * wall time (the goals), and the medians of process CPU time (all threads), which a shared,
 * loaded machine distorts less for single-threaded runners.
 * Baton runs with its plain-SIMD kernels, with relaxed-SIMD (FMA) kernels (on Node 20 the model's
 * detection turns V8's `--experimental-wasm-relaxed-simd` on, as in every entry point) and with
 * prefill GEMMs on two threads; ratios compare each with ORT on one thread (new-rows graph).
 * Prints the machine's load average at the start and the end of the run.
 * Usage: node bench/peers/dist/peers-bench.js [--rounds N] [--models tiny,8x512]
 */
import { cpus, loadavg } from 'node:os';
import * as ort from 'onnxruntime-node';
import { ArrayKvBacking, BUILTIN_MODELS, initBackend, loadModel, type Gpt, type GptConfig, type ModelSequence, type ModelSpec } from '@baton/model';
import { buildGpt2Onnx, kvOutputNames, type KvOutputs } from './gpt2-onnx.js';

const args = process.argv.slice(2);
const arg = (name: string, fallback: string): string => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
};
const ROUNDS = Number(arg('--rounds', '7'));
const MODELS = arg('--models', 'tiny,8x512').split(',');
const PROMPT = 512;
const CTX = 256;
const BATCHES = [1, 8, 32];
const TOLERANCE = 1e-4;

/** The 8x512 bench shape, for a build whose built-in models do not include baton-8x512. */
const SHAPE_8X512: ModelSpec = {
  config: {
    vocabSize: 256, nPositions: 1024, nEmbd: 512, nLayer: 8, nHead: 8, nInner: 2048, activation: 'gelu_new',
    layerNormEpsilon: 1e-5, initializerRange: 0.02, bosTokenId: null, eosTokenId: null,
  },
  seed: 8512,
};

/** Models by --models name: baton-tiny (4x256) and the 8x512 bench shape. */
const MODELS_BY_NAME: Record<string, string | ModelSpec> = {
  tiny: BUILTIN_MODELS.includes('baton-tiny') ? 'baton-tiny' : 'baton-4x256',
  '8x512': BUILTIN_MODELS.includes('baton-8x512') ? 'baton-8x512' : SHAPE_8X512,
};

interface OrtRunner { label: string; variant: KvOutputs; session: ort.InferenceSession }

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.round(q * (s.length - 1))))];
}

function relativeDiff(ref: ArrayLike<number>, got: ArrayLike<number>): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < ref.length; i++) {
    diff = Math.max(diff, Math.abs(ref[i] - got[i]));
    scale = Math.max(scale, Math.abs(ref[i]));
  }
  return diff / scale;
}

function tokens(n: number, seed: number, V: number): number[] {
  let s = seed >>> 0;
  return Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % V;
  });
}

/** ORT feeds for B sequences of T new tokens after P cached positions, pasts tiled from `past`. */
function feeds(config: GptConfig, ids: number[][], P: number, past: Float32Array[] | null): Record<string, ort.Tensor> {
  const { nHead: H, nEmbd: C, nLayer: L } = config;
  const hd = C / H;
  const B = ids.length;
  const T = ids[0].length;
  const f: Record<string, ort.Tensor> = {
    input_ids: new ort.Tensor('int64', BigInt64Array.from(ids.flat().map(BigInt)), [B, T]),
    position_ids: new ort.Tensor('int64', BigInt64Array.from({ length: B * T }, (_, i) => BigInt(P + (i % T))), [B, T]),
    mask: new ort.Tensor('float32', Float32Array.from({ length: T * (P + T) }, (_, i) => (i % (P + T) <= P + Math.floor(i / (P + T)) ? 0 : -1e9)), [T, P + T]),
  };
  for (let l = 0; l < L; l++) {
    for (const [j, kind] of (['key', 'value'] as const).entries()) {
      const one = past === null ? new Float32Array(0) : past[2 * l + j];
      const data = new Float32Array(B * one.length);
      for (let b = 0; b < B; b++) data.set(one, b * one.length);
      f[`past_${kind}_${l}`] = new ort.Tensor('float32', data, [B, H, P, hd]);
    }
  }
  return f;
}

/** Per-layer [H, P, hd] K and V of one sequence, from a full-variant run's present outputs. */
function presents(config: GptConfig, out: ort.InferenceSession.ReturnType): Float32Array[] {
  return Array.from({ length: 2 * config.nLayer }, (_, i) => out[kvOutputNames('full', i >> 1)[i & 1]].data as Float32Array);
}

/** Baton's [T, C] backing rows as ORT's [H, T, hd]. */
function headMajor(rows: Float32Array, T: number, H: number, hd: number): Float32Array {
  const out = new Float32Array(rows.length);
  for (let t = 0; t < T; t++) for (let h = 0; h < H; h++) for (let d = 0; d < hd; d++) out[(h * T + t) * hd + d] = rows[t * H * hd + h * hd + d];
  return out;
}

async function checkAgreement(name: string, model: Gpt, runners: OrtRunner[]): Promise<Float32Array[]> {
  // Baton's K/V of the prompt come from its own prefill; ORT's past from its full-variant prefill.
  const { config } = model;
  const { nLayer: L, nEmbd: C, nHead: H, vocabSize: V } = config;
  const prompt = tokens(CTX, 7, V);
  const next = 42;
  const backing = new ArrayKvBacking({ nLayer: L, nEmbd: C, capacity: CTX + 1 });
  const seq = model.attach(backing);
  const batonPrefill = model.prefill(seq, prompt, { logits: 'all', chunkSize: CTX });
  const batonDecode = model.decode([{ seq, token: next }]);
  seq.release();
  const kRow = new Float32Array(C);
  backing.read(L - 1, 'k', CTX, CTX + 1, kRow);
  const full = runners.find((r) => r.variant === 'full') as OrtRunner;
  const past = presents(config, await full.session.run(feeds(config, [prompt], 0, null)));
  const rows: string[] = [];
  let worst = 0;
  for (const r of runners) {
    const pre = (await r.session.run(feeds(config, [prompt], 0, null)))['logits'].data as Float32Array;
    const dec = await r.session.run(feeds(config, [[next]], CTX, past));
    const [kName] = kvOutputNames(r.variant, L - 1);
    const kOut = dec[kName].data as Float32Array;
    const kNew = r.variant === 'full' ? headMajor(kRow, 1, H, C / H).map((_, i) => kOut[(Math.floor(i / (C / H)) * (CTX + 1) + CTX) * (C / H) + (i % (C / H))]) : kOut;
    const diffs = [relativeDiff(pre, batonPrefill), relativeDiff(dec['logits'].data as Float32Array, batonDecode), relativeDiff(kNew, headMajor(kRow, 1, H, C / H))];
    worst = Math.max(worst, ...diffs);
    rows.push(`  ${r.label.padEnd(18)} prefill ${CTX} logits ${diffs[0].toExponential(2)}  decode logits ${diffs[1].toExponential(2)}  new K row (last layer) ${diffs[2].toExponential(2)}`);
  }
  console.log(`\n${name}: agreement with Baton (max |a - b| / max |ref|, limit ${TOLERANCE})\n${rows.join('\n')}`);
  if (!(worst <= TOLERANCE)) throw new Error(`${name}: ORT and Baton disagree (${worst.toExponential(2)} > ${TOLERANCE}); timings would compare different computations`);
  return past;
}

/** A timed case: one closure per runner label, each timing `reps` repetitions. */
interface Case { name: string; reps: number; runs: Map<string, (reps: number) => Promise<Sample[]>> }

/** One timed repetition: wall-clock ms, and ms of CPU time of the whole process (all its threads). */
interface Sample { wall: number; cpu: number }

async function timeAsync(reps: number, f: () => Promise<unknown> | unknown): Promise<Sample[]> {
  const out: Sample[] = [];
  for (let i = 0; i < reps; i++) {
    const c = process.cpuUsage();
    const t = performance.now();
    await f();
    const wall = performance.now() - t;
    const used = process.cpuUsage(c);
    out.push({ wall, cpu: (used.user + used.system) / 1000 });
  }
  return out;
}

function batonDecodeRun(model: Gpt, source: ArrayKvBacking, batch: number): (reps: number) => Promise<Sample[]> {
  const { nLayer: L, nEmbd: C } = model.config;
  const rows = new Float32Array(CTX * C);
  const backings = Array.from({ length: batch }, () => {
    const b = new ArrayKvBacking({ nLayer: L, nEmbd: C, capacity: CTX + 64 });
    for (let l = 0; l < L; l++) for (const kind of ['k', 'v'] as const) { source.read(l, kind, 0, CTX, rows); b.write(l, kind, 0, rows); }
    return b;
  });
  return async (reps) => {
    // NOTE: re-attached at CTX each round (handoff), layers loaded before timing: steps run at CTX .. CTX + reps.
    const seqs: ModelSequence[] = backings.map((b) => model.attach(b, { length: CTX }));
    for (const s of seqs) for (let l = 0; l < L; l++) s.loadLayer(l);
    const ts = await timeAsync(reps, () => model.decode(seqs.map((seq, i) => ({ seq, token: (i * 7) % model.config.vocabSize }))));
    for (const s of seqs) s.release();
    return ts;
  };
}

/**
 * Loads `spec` as each Baton variant: plain-SIMD kernels ('Baton simd'), relaxed-SIMD FMA kernels
 * where the runtime compiles them ('Baton fma'), and the best kernels with prefill GEMMs on two
 * threads ('Baton <kernels> 2t', BATON_CPU_THREADS=2).
 */
async function loadBatons(spec: string | ModelSpec): Promise<Map<string, Gpt>> {
  const out = new Map<string, Gpt>();
  const variant = async (fma: boolean, threads: number): Promise<Gpt> => {
    if (fma) delete process.env['BATON_WASM_FMA'];
    else process.env['BATON_WASM_FMA'] = '0';
    process.env['BATON_CPU_THREADS'] = String(threads);
    try {
      return await loadModel(spec);
    } finally {
      delete process.env['BATON_WASM_FMA'];
      delete process.env['BATON_CPU_THREADS'];
    }
  };
  const label = (m: Gpt, threads: number): string => `Baton ${m.forwardPath.replace('wasm-', '')}${threads > 1 ? ` ${threads}t` : ''}`;
  const plain = await variant(false, 1);
  out.set(label(plain, 1), plain);
  const fma = await variant(true, 1);
  if (fma.forwardPath !== plain.forwardPath) out.set(label(fma, 1), fma);
  else fma.dispose();
  const two = await variant(true, 2);
  out.set(label(two, 2), two);
  return out;
}

async function benchModel(name: string, batons: Map<string, Gpt>): Promise<string[][]> {
  const model = [...batons.values()][0];
  const { config } = model;
  const { nLayer: L, nEmbd: C, vocabSize: V } = config;
  const runners: OrtRunner[] = [];
  for (const variant of ['full', 'new-rows'] as const) {
    const bytes = buildGpt2Onnx(config, model.weights, variant);
    for (const threads of [1, 2]) {
      const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' });
      runners.push({ label: `ORT ${threads}t ${variant}`, variant, session });
    }
  }
  let past: Float32Array[] = [];
  for (const [label, m] of batons) past = await checkAgreement(`${name}, ${label}`, m, runners);
  const source = new ArrayKvBacking({ nLayer: L, nEmbd: C, capacity: CTX });
  const seq0 = model.attach(source);
  model.prefill(seq0, tokens(CTX, 7, V), { chunkSize: CTX });
  seq0.release();

  const prompt = tokens(PROMPT, 3, V);
  const prefillFeeds = feeds(config, [prompt], 0, null);
  const cases: Case[] = [{
    name: `prefill ${PROMPT}`, reps: 1,
    runs: new Map([
      ...[...batons].map(([label, m]) => [label, (reps: number) => timeAsync(reps, () => {
        const seq = m.attach(new ArrayKvBacking({ nLayer: L, nEmbd: C, capacity: PROMPT }));
        m.prefill(seq, prompt, { chunkSize: PROMPT });
        seq.release();
      })] as const),
      ...runners.map((r) => [r.label, (reps: number) => timeAsync(reps, () => r.session.run(prefillFeeds))] as const),
    ]),
  }];
  for (const b of BATCHES) {
    const f = feeds(config, tokens(b, 11, V).map((t) => [t]), CTX, past);
    cases.push({
      name: `decode b=${b} ctx ${CTX}`, reps: 5,
      runs: new Map([...[...batons].map(([label, m]) => [label, batonDecodeRun(m, source, b)] as const), ...runners.map((r) => [r.label, (reps: number) => timeAsync(reps, () => r.session.run(f))] as const)]),
    });
  }
  const samples = cases.map((c) => new Map([...c.runs.keys()].map((k) => [k, [] as Sample[]])));
  for (const [i, c] of cases.entries()) for (const run of c.runs.values()) await run(1); // warm-up
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, c] of cases.entries()) {
      const labels = [...c.runs.keys()];
      // NOTE: the runner order rotates per round, so no runner always follows the same neighbour.
      for (let j = 0; j < labels.length; j++) {
        const label = labels[(j + round) % labels.length];
        samples[i].get(label)?.push(...(await (c.runs.get(label) as (reps: number) => Promise<Sample[]>)(c.reps)));
      }
    }
  }
  for (const r of runners) await r.session.release();
  const rows: string[][] = [];
  for (const [i, c] of cases.entries()) {
    const ref = samples[i].get('ORT 1t new-rows') as Sample[];
    const refWall = quantile(ref.map((x) => x.wall), 0.5);
    const refCpu = quantile(ref.map((x) => x.cpu), 0.5);
    for (const [label, xs] of samples[i]) {
      const wall = xs.map((x) => x.wall);
      const cpu = quantile(xs.map((x) => x.cpu), 0.5);
      const med = quantile(wall, 0.5);
      const ratio = med / refWall;
      const goal = !label.startsWith('Baton') ? '' : c.name.startsWith('prefill') ? (ratio <= 1.5 ? '<= 1.5: MET' : '<= 1.5: MISSED') : ratio <= 1 ? '<= 1.0: MET' : '<= 1.0: MISSED';
      rows.push([name, c.name, label, med.toFixed(2), `${quantile(wall, 0.25).toFixed(2)}-${quantile(wall, 0.75).toFixed(2)}`, ratio.toFixed(2), goal, cpu.toFixed(2), (cpu / refCpu).toFixed(2)]);
    }
  }
  return rows;
}

/** The 1, 5 and 15 minute load averages (timings on a loaded machine need them beside them). */
function load(): string {
  return `load average ${loadavg().map((x) => x.toFixed(2)).join(', ')}`;
}

async function main(): Promise<void> {
  const info = await initBackend('wasm');
  console.log(`bench:peers ${new Date().toISOString()} node ${process.version} onnxruntime-node ${ort.env.versions.node ?? '?'} Baton backend ${info.detail}`);
  console.log(`machine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${load()}`);
  console.log(`${ROUNDS} interleaved rounds; prefill 1 rep, decode 5 reps per round and runner; ratio = median / median of ORT 1t new-rows`);
  const rows: string[][] = [['model', 'case', 'runner', 'median ms', 'p25-p75 ms', 'ratio', 'goal', 'CPU ms', 'CPU ratio']];
  for (const m of MODELS) {
    const spec = MODELS_BY_NAME[m];
    if (spec === undefined) throw new Error(`--models: unknown model "${m}" (expected ${Object.keys(MODELS_BY_NAME).join(', ')})`);
    const batons = await loadBatons(spec);
    const { nLayer, nEmbd } = [...batons.values()][0].config;
    rows.push(...(await benchModel(`${typeof spec === 'string' ? spec : 'bench'} ${nLayer}x${nEmbd}`, batons)));
    for (const b of batons.values()) b.dispose();
  }
  console.log(`\nat the end: ${load()}`);
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  console.log('');
  for (const [i, r] of rows.entries()) {
    console.log(`| ${r.map((cell, c) => cell.padEnd(widths[c])).join(' | ')} |`);
    if (i === 0) console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  }
}

await main();
