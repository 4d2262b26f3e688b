/// <reference types="@webgpu/types" />
/**
 * The GPU profile of the hand-built pipeline (host thread, `profile` request, the check script's
 * `--only profile`): for one bench model with seeded random weights, where a prefill and a batched
 * decode step spend their time. Per call: the host thread's wall time of `run` with and without
 * the K/V hand-back; the GPU time of all dispatches in one pass; per kernel class, the GPU time
 * inside the pass (timestamps, each dispatch in its own pass) and alone (the class's dispatches
 * repeated 10 times in one pass); the same classes with the earlier kernels (tiled matmul, row
 * attention) for comparison; whole-plan GPU and host times under other matmul rules (decode b=1
 * too); optionally the matmul sweep (matmul-sweep.ts, kernels alone: its absolute times did not
 * match in-plan ones on the H200, so rules are chosen from the in-place comparison); for the
 * prefill, the host timeline of a streamed call (submits, per layer map and copy); pipeline options
 * (K/V hand-back point, LayerNorm fused or not) compared in place.
 */
import type { GptConfig } from '../config.js';
import type { FoldedWeights } from '../model-tensors.js';
import { randomFolded } from './fast-checks.js';
import { FastForward, type FastRows } from './fast-forward.js';
import type { FastOutput, RunTimeline } from './fast-readback.js';
import type { FastVariant } from './fast-variant.js';
import { planSteps, type Step } from './fast-plan.js';
import { GpuKvPool } from './gpu-kv-pool.js';
import type { GpuProfileOptions, GpuProfileRow } from './gpu-protocol.js';
import { GpuTimer } from './gpu-timer.js';
import { blockedRule, chooseMatmul, SMALL_M, tiledRows, smallRows } from './matmul-kernels.js';
import { sweepMatmuls, type MatmulShape } from './matmul-sweep.js';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor((s.length - 1) / 2)];
}

/** Rows of a prefill of T tokens of `slot` from position 0. */
function prefillRows(pool: GpuKvPool, slot: number, T: number): FastRows {
  const positions = Array.from({ length: T }, (_, i) => i);
  return { tokens: positions.map((p) => (p * 31 + 1) % 256), positions, dst: positions.map((p) => pool.keyRow(slot, p)), tableRows: positions.map(() => 0), pages: pool.tableHost([slot]) };
}

/** Rows of one decode step of `slots` at position ctx (pages up to ctx allocated). */
function decodeRows(pool: GpuKvPool, slots: number[], ctx: number): FastRows {
  return {
    tokens: slots.map((s) => (s * 7) % 256), positions: slots.map(() => ctx), dst: slots.map((s) => pool.keyRow(s, ctx)),
    tableRows: slots.map((_, i) => i), pages: pool.tableHost(slots),
  };
}

interface CallSpec { section: string; rows: FastRows; output: FastOutput }

/** Host wall times of run() (with / without the K/V read-back), medians of `reps`; a prefill also gets its timeline. */
async function hostTimes(ff: FastForward, c: CallSpec, reps: number, out: GpuProfileRow[]): Promise<void> {
  for (let i = 0; i < 3; i++) await ff.run(c.rows, c.output);
  const withKv: number[] = [];
  const computeOnly: number[] = [];
  const lines: RunTimeline[] = [];
  for (let i = 0; i < reps; i++) {
    let t0 = performance.now();
    await ff.run(c.rows, c.output);
    withKv.push(performance.now() - t0);
    t0 = performance.now();
    await ff.run(c.rows, c.output, { readKv: false });
    computeOnly.push(performance.now() - t0);
    const timeline: RunTimeline = { submitted: 0, mapped: [], copied: [], done: 0 };
    await ff.run(c.rows, c.output, { timeline });
    lines.push(timeline);
  }
  const kvMiB = (c.rows.tokens.length * ff.kvBytesPerRow) / 2 ** 20;
  out.push({ section: c.section, what: 'host thread: run(), compute + output + K/V hand-back', ms: median(withKv), note: `${kvMiB.toFixed(1)} MiB K/V to the reply buffer` });
  out.push({ section: c.section, what: 'host thread: run(), compute + output only (no K/V read-back)', ms: median(computeOnly), note: 'compute-only' });
  const maps = lines[0].mapped.length;
  if (maps < 3) return;
  const at = (f: (t: RunTimeline) => number): number => median(lines.map(f));
  const layers = maps - 1;
  const copy = median(lines.flatMap((t) => t.mapped.slice(0, layers).map((m, i) => t.copied[i] - m)));
  const gap = median(lines.flatMap((t) => t.mapped.slice(1, layers).map((m, i) => m - t.mapped[i])));
  const row = (what: string, ms: number, note: string): void => { out.push({ section: c.section, what: `host timeline: ${what}`, ms, note }); };
  row('every command buffer encoded and submitted', at((t) => t.submitted), 'ms from the start of run()');
  row('layer 0 K/V mapped', at((t) => t.mapped[0]), 'ms from the start');
  row(`layer ${layers - 1} K/V mapped`, at((t) => t.mapped[layers - 1]), 'ms from the start');
  row(`layer ${layers - 1} K/V in the reply area`, at((t) => t.copied[layers - 1]), 'ms from the start');
  row('output mapped', at((t) => t.mapped[layers]), 'ms from the start');
  row('done', at((t) => t.done), 'ms from the start');
  row('one layer: map resolved to rows copied', copy, `median per layer (${((kvMiB / layers) * 1024).toFixed(0)} KiB)`);
  row('one layer: between consecutive maps', gap, 'median');
}

/** Pipeline options compared in place for a prefill and for a batched decode step. */
const PREFILL_OPTIONS: Array<[string, Partial<FastVariant>]> = [
  ['default (K/V handed back after each qkv matmul, LayerNorm fused where it pays)', {}],
  ['K/V handed back after each whole layer', { handBack: 'layer' }],
  ['K/V of two layers per command buffer', { handBackEvery: 2 }],
  ['LayerNorm as its own dispatch', { fuseNorm: 'never' }],
  ['LayerNorm fused into every blocked matmul', { fuseNorm: 'always' }],
];
const DECODE_OPTIONS: Array<[string, Partial<FastVariant>]> = [
  ['default (LayerNorm fused where it pays, 2 layers per command buffer)', {}],
  ['LayerNorm as its own dispatch', { fuseNorm: 'never' }],
  ['LayerNorm fused into every blocked or small matmul', { fuseNorm: 'always' }],
  ['the whole call in one command buffer', { decodeSubmitEvery: 0 }],
  ['one command buffer per layer', { decodeSubmitEvery: 1 }],
];

/** Host run() times and GPU one-pass times of `ff` on the call, after 3 warm-up runs. */
async function timePipeline(ff: FastForward, v: { timer: GpuTimer; call: CallSpec; reps: number }): Promise<{ host: number[]; gpu: number[]; steps: ReturnType<typeof planSteps> }> {
  for (let i = 0; i < 3; i++) await ff.run(v.call.rows, v.call.output);
  const host: number[] = [];
  for (let i = 0; i < v.reps; i++) {
    const t0 = performance.now();
    await ff.run(v.call.rows, v.call.output);
    host.push(performance.now() - t0);
  }
  const steps = planSteps(ff.prepare(v.call.rows, v.call.output));
  const gpu: number[] = [];
  for (let i = 0; i < v.reps; i++) gpu.push(await v.timer.time(steps, 1));
  return { host, gpu, steps };
}

/** Host run() time (with the K/V hand-back) and GPU time of one pass of a call under each option. */
async function compareOptions(v: { config: GptConfig; weights: FoldedWeights; pool: GpuKvPool; timer: GpuTimer; call: CallSpec; reps: number; options: Array<[string, Partial<FastVariant>]> }, out: GpuProfileRow[]): Promise<void> {
  for (const [name, option] of v.options) {
    const ff = new FastForward(v.config, v.weights, v.pool, option);
    const { host, gpu, steps } = await timePipeline(ff, v);
    out.push({ section: `${v.call.section}: pipeline options`, what: name, ms: median(host), note: `host run() with K/V hand-back; GPU one pass ${median(gpu).toPrecision(3)} ms (${steps.length} dispatches)` });
    ff.dispose();
  }
}

/** GPU times of one plan: whole pass, per class in the pass (timestamps) and alone. */
async function gpuTimes(ff: FastForward, timer: GpuTimer, c: CallSpec, reps: number, tag: string, out: GpuProfileRow[]): Promise<Map<string, number>> {
  const steps = planSteps(ff.prepare(c.rows, c.output));
  const labels = [...new Set(steps.map((s) => s.label))];
  await timer.time(steps, 1);
  const whole: number[] = [];
  for (let i = 0; i < reps; i++) whole.push(await timer.time(steps, 1));
  out.push({ section: c.section, what: `GPU ${tag}: all ${steps.length} dispatches in one pass`, ms: median(whole), note: timer.method });
  const inPass = new Map<string, number[]>();
  const spans: number[] = [];
  const busy: number[] = [];
  for (let i = 0; i < reps; i++) {
    const r = await timer.perStep(steps);
    if (r === null) break;
    spans.push(r.span);
    busy.push(r.ms.reduce((a, b) => a + b, 0));
    for (const l of labels) inPass.set(l, [...(inPass.get(l) ?? []), steps.reduce((a, s, j) => a + (s.label === l ? r.ms[j] : 0), 0)]);
  }
  const alone = new Map<string, number>();
  for (const l of labels) {
    const mine: Step[] = steps.filter((s) => s.label === l);
    await timer.time(mine, 1);
    const ms: number[] = [];
    for (let i = 0; i < 3; i++) ms.push(await timer.time(mine, 10));
    alone.set(l, median(ms));
    const p = inPass.get(l);
    out.push({
      section: c.section, what: `GPU ${tag}: ${l} (${mine.length} dispatches)`, ms: p === undefined ? median(ms) : median(p),
      note: p === undefined ? 'alone x10' : `alone x10: ${median(ms).toPrecision(3)} ms`,
    });
  }
  if (spans.length > 0) {
    out.push({ section: c.section, what: `GPU ${tag}: kernels' sum (one pass per dispatch)`, ms: median(busy), note: `span ${median(spans).toPrecision(3)} ms` });
  }
  return alone;
}

/** Matmul rules compared in place (whole plan, same buffers) for the prefill and for decode. */
const PREFILL_VARIANTS: Array<[string, FastVariant['matmul']]> = [
  ['chooseMatmul', chooseMatmul],
  ['previous rule (64/32-row tiles, 4x4/thread, split to 256)', (M, K, N) => blockedRule(Math.ceil(N / 64) * Math.ceil(M / 64) >= 132 ? 64 : 32, 4, 256, 256)(M, K, N)],
  ['64x64 8x4/thread, split to 256 groups', blockedRule(64, 8, 256, 128)],
  ['64x64 4x4/thread, split to 512 groups', blockedRule(64, 4, 512, 128)],
];
const DECODE_VARIANTS: Array<[string, FastVariant['matmul']]> = [
  ['chooseMatmul', chooseMatmul],
  ['small-M kernel for every matmul', (M) => ({ kind: 'small', rows: smallRows(M) })],
  ['blocked 16x64, split to 256 groups, every matmul', blockedRule(16, 4, 256, 64)],
];

/** GPU time of one pass and the host run() time of the call under each matmul rule. */
async function compareVariants(v: { config: GptConfig; weights: FoldedWeights; pool: GpuKvPool; timer: GpuTimer; call: CallSpec; reps: number; variants: Array<[string, FastVariant['matmul']]> }, out: GpuProfileRow[]): Promise<void> {
  for (const [name, matmul] of v.variants) {
    const ff = new FastForward(v.config, v.weights, v.pool, { matmul });
    const { host, gpu, steps } = await timePipeline(ff, v);
    const mm = steps.filter((s) => ['qkv', 'proj', 'fc', 'fc2', 'head'].includes(s.label));
    const mmMs: number[] = [];
    for (let i = 0; i < 3; i++) mmMs.push(await v.timer.time(mm, 5));
    out.push({ section: `${v.call.section}: matmul rules in place`, what: name, ms: median(gpu), note: `GPU one pass; host run ${median(host).toPrecision(3)} ms; matmuls alone x5 ${median(mmMs).toPrecision(3)} ms (${mm.length} dispatches)` });
    ff.dispose();
  }
}

/** The profile of one bench model (see the file header). */
export async function profileFastPipeline(o: GpuProfileOptions): Promise<GpuProfileRow[]> {
  const C = o.nEmbd;
  const config: GptConfig = {
    vocabSize: 256, nPositions: 1024, nEmbd: C, nLayer: o.nLayer, nHead: o.nHead, nInner: 4 * C, activation: 'gelu_new',
    layerNormEpsilon: 1e-5, initializerRange: 0.02, bosTokenId: null, eosTokenId: null,
  };
  const weights = randomFolded(config, 1);
  const pool = new GpuKvPool(o.nLayer, C, config.nPositions);
  const ff = new FastForward(config, weights, pool);
  const earlier = new FastForward(config, weights, pool, {
    matmul: (M, _K, N) => (M <= SMALL_M ? { kind: 'small', rows: smallRows(M) } : { kind: 'tiled', rows: tiledRows(M, N) }),
    prefillAttention: 'row',
  });
  const timer = new GpuTimer(ff.dev);
  const name = `${o.nLayer}x${C}`;
  const slots = Array.from({ length: o.decodeBatch }, (_, i) => i + 1);
  const calls: CallSpec[] = [
    { section: `${name} prefill ${o.prefill}`, rows: prefillRows(pool, 0, o.prefill), output: 'last' },
    { section: `${name} decode b=${o.decodeBatch} ctx ${o.decodeCtx}`, rows: decodeRows(pool, slots, o.decodeCtx), output: 'ids' },
    { section: `${name} decode b=1 ctx ${o.decodeCtx}`, rows: decodeRows(pool, [slots.length + 1], o.decodeCtx), output: 'ids' },
  ];
  const out: GpuProfileRow[] = [];
  for (const [i, c] of calls.entries()) {
    await hostTimes(ff, c, o.reps, out);
    if (i < 2) {
      await gpuTimes(ff, timer, c, o.reps, 'now', out);
      await earlier.run(c.rows, c.output);
      await gpuTimes(earlier, timer, c, Math.min(o.reps, 3), 'earlier kernels', out);
    }
    await compareOptions({ config, weights, pool, timer, call: c, reps: o.reps, options: i === 0 ? PREFILL_OPTIONS : DECODE_OPTIONS }, out);
    await compareVariants({ config, weights, pool, timer, call: c, reps: o.reps, variants: i === 0 ? PREFILL_VARIANTS : DECODE_VARIANTS }, out);
  }
  if (o.sweep) {
    const I = 4 * C;
    const shapes = (M: number): MatmulShape[] => [
      { M, K: C, N: 3 * C, ep: 'none', label: 'qkv' }, { M, K: C, N: C, ep: 'residual', label: 'proj' },
      { M, K: C, N: I, ep: 'gelu', label: 'fc' }, { M, K: I, N: C, ep: 'residual', label: 'fc2' }, { M, K: C, N: 256, ep: 'none', label: 'head' },
    ];
    out.push(...(await sweepMatmuls(ff.dev, timer, [...shapes(o.prefill), ...shapes(o.decodeBatch)], 10)));
  }
  ff.dispose();
  earlier.dispose();
  pool.dispose();
  return out;
}
