/**
 * The one GPU check and benchmark script (run on the GPU machine through gpu/bundle.sh's tree):
 *  1. fused WGSL kernels vs generic tfjs ops (in a GPU host thread);
 *  2. Hugging Face fixture parity on the GPU (1e-4 relative on logits; greedy continuations);
 *  3. greedy token equality of every engine mode on the GPU vs plain generate on the GPU;
 *  4. speed: prefill of 512 tokens, one decode step at context ~256 (batch 1 and 32) for the
 *     4x256, 8x512 and 12x768 bench models, with dispatches, command buffers and host encode and
 *     run time per call, against PyTorch figures of the same lease (BATON_TORCH_BASELINES:
 *     torch_baselines.py's baselines.json; --fresh adds a prefill into a fresh KvBacking);
 *  5. engine throughput per mode on the GPU (disaggregated 1P/1D, colocated x2, chunked x2: same
 *     model threads, same fixed workload) with each actor's per-step host time (GPU host traces);
 *  6. profile of the hand-built pipeline (8x512, 4x256, 12x768: prefill 512, decode b=32 and b=1 ctx 256): host
 *     and GPU time per kernel class, now and with the earlier kernels; --sweep adds every matmul tiling;
 *  7. engine create/close in a loop on the GPU (disaggregated, colocated, chunked; requests in
 *     flight at close): the process stays alive. Runs in a child process (this script with
 *     --close-child N) so that a native crash is reported as a failed check.
 * Prints tables and writes results.json to $OUT (or ./gpu-out). Each section reports its own
 * failure and the script goes on.
 * Usage: node gpu/run-gpu-checks.mjs [--fixture DIR] [--quick] [--sweep] [--fresh] [--shapes 4x256x8,...] [--closes N] [--only kernels,fixture,speed,modes,disagg,profile,close]
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  ArrayKvBacking, closeBackend, generate, initBackend, loadModel, type Gpt, type GptConfig, type KvBacking, type KvKind,
} from '@baton/model';
import { checkGpuKernels, profileGpu, takeGpuStepStats, warmGpu, type GpuProfileRow, type GpuStepStats } from '@baton/model/gpu-checks';
import { createEngine, type EngineOptionsInput, type GenerationResult } from '@baton/engine';

const args = process.argv.slice(2);
const argValue = (name: string, fallback: string): string => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
};
const FIXTURE = argValue('--fixture', new URL('../fixtures/gpt2-tiny-bytes/', import.meta.url).pathname);
const QUICK = args.includes('--quick');
const SWEEP = args.includes('--sweep');
const FRESH = args.includes('--fresh');
const OUT = process.env['OUT'] ?? 'gpu-out';
const results: Record<string, unknown> = { date: new Date().toISOString() };
let failures = 0;

function table(title: string, head: string[], rows: Array<Array<string | number>>): void {
  const cells = [head, ...rows.map((r) => r.map((c) => (typeof c === 'number' ? fmt(c) : c)))];
  const w = head.map((_, i) => Math.max(...cells.map((r) => String(r[i] ?? '').length)));
  console.log(`\n## ${title}`);
  for (const [i, r] of cells.entries()) {
    console.log(`| ${r.map((c, j) => String(c).padEnd(w[j])).join(' | ')} |`);
    if (i === 0) console.log(`|${w.map((x) => '-'.repeat(x + 2)).join('|')}|`);
  }
}
function fmt(n: number): string {
  if (Number.isInteger(n)) return String(n);
  return Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 1 ? n.toFixed(2) : n.toPrecision(3);
}
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor((s.length - 1) / 2)];
}
function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}
async function section(name: string, f: () => Promise<void>): Promise<void> {
  const t0 = performance.now();
  try {
    await f();
  } catch (e) {
    failures++;
    console.log(`\n## ${name}: FAILED\n${e instanceof Error ? e.stack ?? e.message : String(e)}`);
    results[`${name}:error`] = String(e);
  }
  console.log(`(${name}: ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
}
function relDiff(ref: ArrayLike<number>, got: ArrayLike<number>): number {
  let d = 0;
  let s = 0;
  for (let i = 0; i < ref.length; i++) {
    d = Math.max(d, Math.abs(ref[i] - got[i]));
    s = Math.max(s, Math.abs(ref[i]));
  }
  return d / s;
}

async function kernels(): Promise<void> {
  const checks = checkGpuKernels();
  results['kernels'] = checks;
  table('Fused WGSL kernels vs generic tfjs ops (on the GPU)', ['kernel', 'max |diff|', 'ok'], checks.map((c) => [c.name, c.maxAbsDiff, c.ok ? 'yes' : 'NO']));
  if (checks.some((c) => !c.ok)) failures++;
}

interface Case { prompt: number[]; first_logits: number[]; last_logits: number[]; greedy: number[]; greedy_margins: number[] }

async function fixtureParity(): Promise<void> {
  const model = await loadModel(FIXTURE);
  const cases = (JSON.parse(readFileSync(join(FIXTURE, 'expected.json'), 'utf8')) as { cases: Case[] }).cases;
  const V = model.config.vocabSize;
  const rows = cases.map((c, i) => {
    const seq = model.attach(new ArrayKvBacking({ nLayer: model.config.nLayer, nEmbd: model.config.nEmbd }));
    const all = model.prefill(seq, c.prompt, { logits: 'all', chunkSize: 16 });
    seq.release();
    const T = c.prompt.length;
    const first = relDiff(c.first_logits, all.subarray(0, V));
    const last = relDiff(c.last_logits, all.subarray((T - 1) * V, T * V));
    const { ids } = generate(model, { promptIds: c.prompt, maxTokens: c.greedy.length });
    const low = c.greedy_margins.findIndex((m) => m < 1e-3);
    const upTo = low === -1 ? c.greedy.length : low + 1;
    const greedyOk = ids.slice(0, upTo).every((id, j) => id === c.greedy[j]);
    const ok = first < 1e-4 && last < 1e-4 && greedyOk;
    if (!ok) failures++;
    return [i, T, first, last, `${upTo} tokens ${greedyOk ? 'equal' : 'DIFFER'}`, ok ? 'yes' : 'NO'];
  });
  results['fixture'] = rows;
  table('HF fixture parity on the GPU (tolerance 1e-4 relative)', ['case', 'prompt', 'first logits rel', 'last logits rel', 'greedy', 'ok'], rows);
  model.dispose();
}

function mixedPrompts(n: number, seed: number, maxLen: number): number[][] {
  let s = seed;
  const next = (): number => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
  return Array.from({ length: n }, () => Array.from({ length: 3 + Math.floor(next() * (maxLen - 3)) }, () => 1 + Math.floor(next() * 250)));
}

const MODES: Array<[string, EngineOptionsInput]> = [
  ['disaggregated 2P/2D', { mode: 'disaggregated', prefill: 2, decode: 2 }],
  ['colocated x2', { mode: 'colocated', colocated: 2 }],
  ['chunked x2', { mode: 'chunked', colocated: 2, prefillChunkSize: 16, tokenBudget: 24 }],
  ['single', { mode: 'single' }],
];

async function engineModes(): Promise<void> {
  const rows: Array<Array<string | number>> = [];
  for (const [label, modelName] of [['baton-tiny', 'baton-tiny'], ['HF fixture', FIXTURE]] as const) {
    const ref = await loadModel(modelName);
    const prompts = mixedPrompts(QUICK ? 6 : 10, 7, 60);
    const maxTokens = (i: number): number => 4 + (i % 5) * 4;
    const expected = prompts.map((p, i) => generate(ref, { promptIds: p, maxTokens: maxTokens(i) }).ids);
    ref.dispose();
    for (const [name, options] of MODES) {
      const t0 = performance.now();
      const engine = await createEngine({ ...options, model: modelName, backend: 'webgpu' });
      try {
        const got = await Promise.all(prompts.map((prompt, i) => engine.generate({ prompt, maxTokens: maxTokens(i) }).result));
        const bad = got.map((r, i) => (r.ids.join() === expected[i].join() ? -1 : i)).filter((i) => i >= 0);
        const stats = await engine.stats();
        const ok = bad.length === 0 && stats.pool.used === 0;
        if (!ok) failures++;
        rows.push([label, name, prompts.length, bad.length === 0 ? 'all equal' : `DIFFER: requests ${bad.join(',')}`, stats.pool.used, ((performance.now() - t0) / 1000).toFixed(1), ok ? 'yes' : 'NO']);
      } finally {
        await engine.close({ deadlineMs: 0 });
      }
    }
  }
  results['modes'] = rows;
  table('Engine modes on the GPU: greedy ids vs plain generate on the GPU', ['model', 'mode', 'requests', 'tokens', 'KV blocks left', 'seconds', 'ok'], rows);
}

function benchConfig(nLayer: number, nEmbd: number, nHead: number): GptConfig {
  return {
    vocabSize: 256, nPositions: 1024, nEmbd, nLayer, nHead, nInner: 4 * nEmbd, activation: 'gelu_new',
    layerNormEpsilon: 1e-5, initializerRange: 0.02, bosTokenId: null, eosTokenId: null,
  };
}

function timeIt(reps: number, f: () => void): number[] {
  const ms: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    f();
    ms.push(performance.now() - t0);
  }
  return ms;
}

/** SM clock samples (ms since epoch, MHz) from `nvidia-smi --query-gpu=timestamp,clocks.sm --format=csv -lms 100` (BATON_CLOCK_LOG). */
function clockSamples(): Array<[number, number]> {
  const file = process.env['BATON_CLOCK_LOG'];
  if (file === undefined || !existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').flatMap((line): Array<[number, number]> => {
    const [ts, mhz] = line.split(',');
    const t = Date.parse((ts ?? '').trim());
    const m = Number.parseFloat(mhz ?? '');
    return Number.isFinite(t) && Number.isFinite(m) ? [[t, m]] : [];
  });
}

/**
 * Median ms of `reps` calls of f and the median SM clock seen meanwhile (null without a clock log).
 * `busy`: first a 1.2 s GPU burst, then 50 ms more before every 5 timed calls. NOTE: on the H200
 * the driver took ~1 s of load to raise the SM clock from 345 to 1980 MHz and lowered it again
 * after ~1 s of near-idle GPU, which single timed calls are; the burst never overlaps a timed call.
 */
async function measure(reps: number, f: () => void, busy: boolean): Promise<Timing> {
  if (busy) warmGpu(1200);
  timeIt(2, f);
  takeGpuStepStats();
  const t0 = Date.now();
  const times: number[] = [];
  for (let i = 0; i < reps; i += 5) {
    if (busy && i > 0) warmGpu(50);
    times.push(...timeIt(Math.min(5, reps - i), f));
  }
  const ms = median(times);
  const t1 = Date.now();
  const st = takeGpuStepStats();
  // NOTE: nvidia-smi samples every 100 ms; wait for the samples of the window to be written.
  await new Promise((r) => setTimeout(r, 250));
  const seen = clockSamples().filter(([t]) => t >= t0 - 100 && t <= t1 + 100).map(([, m]) => m);
  return { ms, mhz: seen.length === 0 ? null : median(seen), step: st === null || st.calls === 0 ? null : perCall(st) };
}

/** Mean per forward call of a host's totals. */
function perCall(st: GpuStepStats): GpuStepStats {
  const n = st.calls;
  return { calls: n, dispatches: st.dispatches / n, submits: st.submits / n, encodeMs: st.encodeMs / n, runMs: st.runMs / n };
}

/** Median model-thread ms, SM clock seen, and the GPU host's per-call means (null off the hand-built pipeline). */
type Timing = { ms: number; mhz: number | null; step: GpuStepStats | null };

/** A KvBacking that notes when each write starts and ends (ms, performance.now()). */
class TimedBacking implements KvBacking {
  readonly marks: Array<{ layer: number; kind: KvKind; start: number; end: number }> = [];
  constructor(private readonly inner: ArrayKvBacking) {}
  get capacity(): number {
    return this.inner.capacity;
  }
  write(layer: number, kind: KvKind, start: number, rows: Float32Array): void {
    const t = performance.now();
    this.inner.write(layer, kind, start, rows);
    this.marks.push({ layer, kind, start: t, end: performance.now() });
  }
  read(layer: number, kind: KvKind, start: number, end: number, out: Float32Array): void {
    this.inner.read(layer, kind, start, end, out);
  }
}

/**
 * Where the model thread's time of a 512-token prefill goes (busy clock): per call, when layer 0's
 * and the last layer's K/V writes began and ended, and the call's end (ms from the call's start).
 */
async function prefillTimeline(model: Gpt, warm: ArrayKvBacking, prompt: number[]): Promise<Array<[string, number]>> {
  const reps = QUICK ? 5 : 20;
  const rows: Array<Record<string, number>> = [];
  warmGpu(1200);
  for (let i = 0; i < reps; i++) {
    if (i % 5 === 0) warmGpu(50);
    const timed = new TimedBacking(warm);
    const seq = model.attach(timed);
    const t0 = performance.now();
    model.prefill(seq, prompt, { chunkSize: 512 });
    const end = performance.now() - t0;
    seq.release();
    // NOTE: absolute times (ms since the epoch) to line up with the host thread's BATON_GPU_TRACE lines.
    const abs = (t: number): number => performance.timeOrigin + t;
    timelineCalls.push({ model: `${model.config.nLayer}x${model.config.nEmbd}`, start: abs(t0), end: abs(t0 + end), writes: timed.marks.map((x) => ({ layer: x.layer, kind: x.kind, start: abs(x.start), end: abs(x.end) })) });
    const L = model.config.nLayer;
    const m = (l: number, kind: KvKind): { start: number; end: number } => timed.marks.find((x) => x.layer === l && x.kind === kind) ?? { start: NaN, end: NaN };
    const stores = Array.from({ length: L }, (_, l) => m(l, 'v').end - m(l, 'k').start);
    rows.push({ first: m(0, 'k').start - t0, lastStart: m(L - 1, 'k').start - t0, lastEnd: m(L - 1, 'v').end - t0, store: median(stores), end });
  }
  const at = (k: string): number => median(rows.map((r) => r[k]));
  return [
    ['layer 0 K/V reached the model thread', at('first')], [`last layer K/V reached the model thread`, at('lastStart')],
    ['last layer K/V stored', at('lastEnd')], ['call returned', at('end')], ['one layer stored (K and V rows), median', at('store')],
  ];
}

/** Rows of the prefill timelines of benchModel (model, what, ms), and each timed call (results.json). */
const timelines: Array<[string, string, number]> = [];
const timelineCalls: unknown[] = [];

async function benchModel(model: Gpt): Promise<Record<string, { busy: Timing; asRun: Timing }>> {
  const { nLayer, nEmbd } = model.config;
  const backing = (): ArrayKvBacking => new ArrayKvBacking({ nLayer, nEmbd, capacity: 1024 });
  const prompt = (n: number, salt: number): number[] => Array.from({ length: n }, (_, i) => (i * 31 + salt) % 256);
  const reps = QUICK ? 5 : 30;
  const both = async (f: () => void): Promise<{ busy: Timing; asRun: Timing }> => ({ asRun: await measure(reps, f, false), busy: await measure(reps, f, true) });
  // NOTE: serving writes K/V into a preallocated pool; a fresh backing per call (the earlier bench)
  // adds first-touch page faults of 16 MiB (8x512) to every prefill.
  const warm = backing();
  const prefillOnce = (fresh: boolean) => (): void => {
    const seq = model.attach(fresh ? backing() : warm);
    model.prefill(seq, prompt(512, 1), { chunkSize: 512 });
    seq.release();
  };
  const out: Record<string, { busy: Timing; asRun: Timing }> = { prefill512: await both(prefillOnce(false)) };
  if (FRESH) out['prefill512_fresh'] = await both(prefillOnce(true));
  timelines.push(...(await prefillTimeline(model, warm, prompt(512, 1))).map(([what, ms]): [string, string, number] => [`${nLayer}x${nEmbd}`, what, ms]));
  // Each measurement decodes its own batch of fresh sequences prefilled to 256 (context 256..288).
  const decoding = async (B: number, greedy: boolean, busy: boolean): Promise<Timing> => {
    const seqs = Array.from({ length: B }, (_, b) => {
      const seq = model.attach(backing());
      model.prefill(seq, prompt(256, b), { chunkSize: 256 });
      return seq;
    });
    let tok = 0;
    const batch = (): Array<{ seq: (typeof seqs)[number]; token: number }> => seqs.map((seq) => ({ seq, token: tok++ % 256 }));
    const t = await measure(reps, () => (greedy ? model.decodeGreedy(batch()) : model.decode(batch())), busy);
    for (const s of seqs) s.release();
    return t;
  };
  for (const B of [1, 32]) {
    for (const greedy of [false, true]) {
      out[`${greedy ? 'greedy' : 'decode'}_b${B}`] = { asRun: await decoding(B, greedy, false), busy: await decoding(B, greedy, true) };
    }
  }
  return out;
}

/** The bench shapes (layers x width, heads), as torch_baselines.py's SHAPES (`--shapes 4x256x8,...` overrides). */
const SHAPES: Array<[string, number, number, number]> = argValue('--shapes', '4x256x8,8x512x8,12x768x12').split(',').map((sh) => {
  const [L, C, H] = sh.split('x').map((v) => Number.parseInt(v, 10));
  return [`${L}x${C}`, L, C, H];
});

/**
 * PyTorch figures measured in the same lease (`torch_baselines.py static`, its baselines.json named
 * by BATON_TORCH_BASELINES): per shape and case, host wall ms (logits read back) of the static-KV
 * forward captured in a CUDA graph and run eagerly, and its SM clock. Empty without the file.
 */
interface TorchFigure { graph: number; eager: number; mhz: number | null }
function torchBaselines(): Record<string, Record<string, TorchFigure>> {
  const file = process.env['BATON_TORCH_BASELINES'];
  if (file === undefined || !existsSync(file)) return {};
  type Fig = { wall_ms?: number; mhz?: number | null };
  const data = JSON.parse(readFileSync(file, 'utf8')) as { static?: Record<string, Record<string, Fig>> };
  const out: Record<string, Record<string, TorchFigure>> = {};
  for (const [shape, r] of Object.entries(data.static ?? {})) {
    out[shape] = {};
    for (const key of ['prefill512', 'decode_b1', 'decode_b32']) {
      const g = r[`${key}_graph`];
      const e = r[`${key}_eager`];
      if (g?.wall_ms !== undefined) out[shape][key] = { graph: g.wall_ms, eager: e?.wall_ms ?? NaN, mhz: g.mhz ?? null };
    }
    const kv = r['prefill512_graph_kv_to_host'];
    if (kv?.wall_ms !== undefined) out[shape]['prefill512_kv'] = { graph: kv.wall_ms, eager: NaN, mhz: kv.mhz ?? null };
  }
  return out;
}

async function speed(): Promise<void> {
  const rows: Array<Array<string | number>> = [];
  const raw: Record<string, Record<string, { busy: Timing; asRun: Timing }>> = {};
  const torch = torchBaselines();
  results['torch'] = torch;
  const mhz = (t: Timing | TorchFigure | undefined): string => (t === undefined || t.mhz === null ? '-' : String(Math.round(t.mhz)));
  for (const [name, L, C, H] of SHAPES) {
    const model = await loadModel({ config: benchConfig(L, C, H), seed: 1 });
    const r = await benchModel(model);
    model.dispose();
    raw[name] = r;
    const row = (what: string, key: string, refKey: string): void => {
      const { busy, asRun } = r[key];
      const t = torch[name]?.[refKey];
      const st = busy.step;
      rows.push([
        name, what, busy.ms, mhz(busy), asRun.ms, mhz(asRun), st?.dispatches ?? '-', st?.submits ?? '-', st?.encodeMs ?? '-', st?.runMs ?? '-',
        t?.graph ?? '-', mhz(t), t === undefined ? '-' : `${(busy.ms / t.graph).toFixed(2)}x`, t === undefined || Number.isNaN(t.eager) ? '-' : t.eager,
      ]);
    };
    row('prefill 512 (last logits + all K/V rows into a warm KvBacking)', 'prefill512', 'prefill512');
    if (FRESH) row('prefill 512 (same, fresh KvBacking per call: page faults)', 'prefill512_fresh', 'prefill512');
    for (const B of [1, 32]) {
      row(`decode step b=${B}, ctx 256-288 (logits back)`, `decode_b${B}`, `decode_b${B}`);
      row(`decode step b=${B}, ctx 256-288 (greedy ids back)`, `greedy_b${B}`, `decode_b${B}`);
    }
    const kv = torch[name]?.['prefill512_kv'];
    if (kv !== undefined) rows.push([name, 'PyTorch only: prefill 512 graph + all K/V copied to pinned host memory', '-', '-', '-', '-', '-', '-', '-', '-', kv.graph, mhz(kv), '-', '-']);
  }
  results['speed'] = raw;
  results['prefillTimeline'] = timelines;
  results['prefillTimelineCalls'] = timelineCalls;
  table('Prefill 512 on the GPU, model thread timeline (busy clock; median ms from the call\'s start)', ['model', 'what', 'ms'], timelines);
  table('Speed on the GPU (median ms, model thread; "busy": GPU kept at its busy clock by bursts between groups of 5 timed calls; "as run": no bursts; SM MHz seen (nvidia-smi); per call on the GPU host thread (busy): dispatches, command buffers, host ms to the last submit (encode), host ms of the whole call (run); PyTorch static KV + CUDA graph and eager, same lease, host wall incl. logits read-back; ratio = Baton busy / graph, > 1 = slower)',
    ['model', 'what', 'busy ms', 'SM MHz', 'as run ms', 'SM MHz', 'dispatches', 'cmd bufs', 'encode ms', 'host run ms', 'torch graph ms', 'SM MHz', 'ratio', 'torch eager ms'], rows);
}

async function profile(): Promise<void> {
  const all: GpuProfileRow[] = [];
  for (const [L, C, H] of [[8, 512, 8], [4, 256, 8], [12, 768, 12]] as const) {
    const rows = profileGpu({ nLayer: L, nEmbd: C, nHead: H, prefill: 512, decodeBatch: 32, decodeCtx: 256, reps: QUICK ? 3 : 7, sweep: SWEEP });
    all.push(...rows);
  }
  results['profile'] = all;
  for (const section of [...new Set(all.map((r) => r.section))]) {
    table(`Profile: ${section} (median ms)`, ['what', 'ms', 'note'], all.filter((r) => r.section === section).map((r) => [r.what, r.ms, r.note]));
  }
}

/** One GPU host thread's requests from its BATON_GPU_TRACE log: type, start and end (ms since the epoch). */
function traceCalls(file: string): Array<{ type: string; start: number; end: number }> {
  const calls: Array<{ type: string; start: number; end: number }> = [];
  const open = new Map<string, number>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const [t, type, what] = line.split(' ');
    const ms = Number.parseFloat(t);
    if (!Number.isFinite(ms) || type === 'reply') continue;
    if (what === 'start') open.set(type, ms);
    else if (what === 'done' && open.has(type)) calls.push({ type, start: open.get(type) as number, end: ms });
  }
  return calls;
}

/**
 * Where an actor's steps spend host time, from its GPU host thread's trace: decode calls, the
 * median call (encode, GPU, read-back), the median time between a decode call's end and the next
 * one's start while busy (< 20 ms: the model thread's own work per step: scheduling, storing K/V,
 * sampling, messages), the same for prefill calls, and K/V uploads (`load`: handed-over rows).
 */
function hostTimes(dir: string): Array<Record<string, number>> {
  return readdirSync(dir).filter((f) => f.startsWith('gpu-host-')).map((f) => {
    const calls = traceCalls(join(dir, f));
    const dec = calls.filter((c) => c.type === 'decode');
    const pre = calls.filter((c) => c.type === 'prefill');
    // Between two consecutive calls of one kind (decode after decode, prefill after prefill, other
    // requests such as loads and frees in between allowed), while busy (< 20 ms apart).
    const gapsOf = (type: string): number[] => {
      const gaps: number[] = [];
      let last: number | null = null;
      for (const c of calls) {
        if (c.type !== type) continue;
        if (last !== null && c.start - last < 20) gaps.push(c.start - last);
        last = c.end;
      }
      return gaps;
    };
    const loads = calls.filter((c) => c.type === 'load');
    return {
      decodes: dec.length, decodeMs: median(dec.map((c) => c.end - c.start)), betweenMs: median(gapsOf('decode')),
      prefills: pre.length, prefillMs: median(pre.map((c) => c.end - c.start)), prefillGapMs: median(gapsOf('prefill')),
      loads: loads.length, loadMs: loads.reduce((a, c) => a + c.end - c.start, 0),
    };
  }).filter((h) => h.decodes + h.prefills > 0);
}

/**
 * Engine throughput per mode on the GPU (same model, same 2 model threads per mode, same fixed
 * workload), with each actor's per-step host time from its GPU host thread's trace.
 */
async function disaggVsColocated(): Promise<void> {
  const prompts = mixedPrompts(QUICK ? 16 : 32, 21, 200);
  const maxTokens = 32;
  const rows: Array<Array<string | number>> = [];
  const host: Array<Array<string | number>> = [];
  for (const [name, options] of [
    ['disaggregated 1P/1D', { mode: 'disaggregated', prefill: 1, decode: 1 }],
    ['colocated x2', { mode: 'colocated', colocated: 2 }],
    ['chunked x2', { mode: 'chunked', colocated: 2, prefillChunkSize: 64, tokenBudget: 96 }],
  ] as Array<[string, EngineOptionsInput]>) {
    // NOTE: the actors' GPU host threads inherit the environment: one trace file per host thread.
    const dir = mkdtempSync(join(tmpdir(), 'baton-gpu-trace-'));
    process.env['BATON_GPU_TRACE'] = dir;
    const engine = await createEngine({ ...options, model: 'baton-tiny', backend: 'webgpu' });
    delete process.env['BATON_GPU_TRACE'];
    try {
      await engine.generate({ prompt: [1, 2, 3], maxTokens: 4 }).result;
      const t0 = performance.now();
      const got: GenerationResult[] = await Promise.all(prompts.map((prompt) => engine.generate({ prompt, maxTokens }).result));
      const sec = (performance.now() - t0) / 1000;
      const ttft = got.map((g) => g.metrics.ttftMs).filter((v): v is number => v !== null);
      const tpot = got.map((g) => g.metrics.tpotMs).filter((v): v is number => v !== null);
      const tokens = got.reduce((a, g) => a + g.ids.length, 0);
      rows.push([name, prompts.length, tokens / sec, pct(ttft, 50), pct(ttft, 90), pct(tpot, 50), pct(tpot, 90)]);
      const stats = await engine.stats();
      for (const a of stats.actors) host.push([name, a.name, a.steps, a.meanBatchSize ?? '-', a.utilization, '-', '-', '-', '-', '-', '-', '-']);
      for (const [i, h] of hostTimes(dir).entries()) {
        host.push([name, `GPU host ${i + 1}`, h.decodes, '-', '-', h.decodeMs, h.betweenMs, h.prefills, h.prefillMs, h.prefillGapMs, h.loads, h.loadMs]);
      }
    } finally {
      await engine.close({ deadlineMs: 0 });
      rmSync(dir, { recursive: true, force: true });
    }
  }
  results['disagg'] = rows;
  results['disaggHost'] = host;
  table(`Engine on the GPU, baton-tiny, ${prompts.length} requests at once, prompts 3-200, ${maxTokens} tokens each, 2 model threads per mode`, ['mode', 'requests', 'tokens/s', 'TTFT p50 ms', 'TTFT p90', 'TPOT p50 ms', 'TPOT p90'], rows);
  table('Engine on the GPU: per actor (engine stats: steps, mean batch, busy share) and per GPU host thread (its trace: decode calls, median call ms, median ms from a decode call\'s end to the next one\'s start = the model thread\'s own work per step, prefill calls, median prefill call ms and median ms between prefill calls, K/V uploads and their total ms)',
    ['mode', 'actor / host', 'steps or decode calls', 'mean batch', 'utilization', 'decode call ms', 'between decodes ms', 'prefills', 'prefill ms', 'between prefills ms', 'K/V loads', 'load ms total'], host);
}

const CLOSE_MODES: Array<[string, EngineOptionsInput]> = [
  ['disaggregated 1P/1D', { mode: 'disaggregated', prefill: 1, decode: 1 }],
  ['colocated x2', { mode: 'colocated', colocated: 2 }],
  ['chunked x2', { mode: 'chunked', colocated: 2, prefillChunkSize: 16, tokenBudget: 24 }],
];

/**
 * The child of the close check: `rounds` times, each mode's engine is created, given 12 requests,
 * and closed with deadline 0 once a few have finished (the rest are in flight: the actors stop
 * between steps and their threads are terminated). Prints one line per close.
 */
async function closeLoop(rounds: number): Promise<void> {
  const prompts = mixedPrompts(12, 5, 60);
  for (let round = 1; round <= rounds; round++) {
    for (const [name, options] of CLOSE_MODES) {
      const t0 = performance.now();
      const engine = await createEngine({ ...options, model: 'baton-tiny', backend: 'webgpu' });
      const results = prompts.map((prompt, i) => engine.generate({ prompt, maxTokens: 8 + 8 * (i % 6) }).result.then((r) => (r.finishReason === 'abort' ? 0 : 1), () => 0));
      await Promise.race([Promise.all(results.slice(0, 3)), new Promise((r) => setTimeout(r, 2_000))]);
      await engine.close({ deadlineMs: 0 });
      const done = (await Promise.all(results)).reduce((a: number, b) => a + b, 0);
      console.log(`close ${round}/${rounds} ${name}: closed with ${prompts.length - done} of ${prompts.length} requests unfinished (${(performance.now() - t0).toFixed(0)} ms)`);
    }
  }
  console.log('CLOSE LOOP DONE');
}

/** Runs closeLoop in a child process; the check passes if the child exits 0 after every close. */
async function closeCheck(): Promise<void> {
  const rounds = Number.parseInt(argValue('--closes', QUICK ? '3' : '10'), 10);
  const lines: string[] = [];
  const t0 = performance.now();
  const { code, signal } = await new Promise<{ code: number | null; signal: string | null }>((resolve) => {
    const child = spawn(process.execPath, [process.argv[1], '--close-child', String(rounds)], { stdio: ['ignore', 'pipe', 'pipe'] });
    const take = (chunk: Buffer): void => { lines.push(...chunk.toString().split('\n').filter((l) => l !== '')); };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('exit', (c, s) => resolve({ code: c, signal: s }));
  });
  const closes = lines.filter((l) => l.startsWith('close ')).length;
  const ok = code === 0 && lines.includes('CLOSE LOOP DONE') && closes === rounds * CLOSE_MODES.length;
  if (!ok) {
    failures++;
    console.log(`close check child output (last 20 lines):\n${lines.slice(-20).join('\n')}`);
  }
  const how = signal !== null ? `killed by ${signal}` : `exit code ${code}`;
  const row = [`engine create/close x ${rounds * CLOSE_MODES.length} on the GPU (${CLOSE_MODES.map(([n]) => n).join(', ')}; requests in flight)`, closes, how, ((performance.now() - t0) / 1000).toFixed(1), ok ? 'yes' : 'NO'];
  results['close'] = { closes, code, signal, ok };
  table('Engine create/close on the GPU: process alive', ['check', 'closes done', 'child process', 'seconds', 'ok'], [row]);
}

const closeChild = args.indexOf('--close-child');
if (closeChild >= 0) {
  await closeLoop(Number.parseInt(args[closeChild + 1] ?? '1', 10));
  process.exit(0);
}

const info = await initBackend('webgpu');
console.log(`backend: ${info.detail}`);
results['backend'] = info.detail;
const only = argValue('--only', 'kernels,fixture,modes,speed,disagg,profile,close').split(',');
const SECTIONS: Array<[string, () => Promise<void>]> = [
  ['kernels', kernels], ['fixture', fixtureParity], ['speed', speed], ['modes', engineModes], ['disagg', disaggVsColocated], ['profile', profile], ['close', closeCheck],
];
for (const [name, f] of SECTIONS) if (only.includes(name)) await section(name, f);
mkdirSync(OUT, { recursive: true });
writeFileSync(join(OUT, 'results.json'), JSON.stringify(results, null, 2));
console.log(`\n${failures === 0 ? 'ALL GPU CHECKS PASSED' : `${failures} GPU CHECK(S) FAILED`}`);
// NOTE: stop the GPU host thread cleanly (after its queue drains) before exiting.
await closeBackend();
process.exit(failures === 0 ? 0 : 1);
