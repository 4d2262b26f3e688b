/**
 * Parity of the hand-built pipeline (fast-forward.ts) against the tfjs path of GpuForward, on the
 * host thread's backend (WebGPU): same seeded random weights, a 90-token and a 40-token prefill
 * (blocked matmuls), then batched decode steps of 2 and 12 rows; compares logits and the K/V rows.
 */
import type { GptConfig } from '../config.js';
import type { FoldedWeights } from '../model-tensors.js';
import { createRng } from '../rng.js';
import type { ForwardOps } from './forward-ops.js';
import { GpuForward, type ForwardResult } from './gpu-forward.js';
import type { KernelCheck } from './gpu-protocol.js';

const TOLERANCE = 1e-4;

/** Seeded random folded weights of a config (kernel checks and the profile). */
export function randomFolded(c: GptConfig, seed: number): FoldedWeights {
  const rng = createRng(seed);
  const r = (n: number, s: number): Float32Array => Float32Array.from({ length: n }, () => (rng.next() * 2 - 1) * s);
  const { nEmbd: C, nInner: I, vocabSize: V } = c;
  const blocks = Array.from({ length: c.nLayer }, () => ({
    attnW: r(C * 3 * C, 0.1), attnB: r(3 * C, 0.1), projW: r(C * C, 0.1), projB: r(C, 0.1),
    fcW: r(C * I, 0.1), fcB: r(I, 0.1), mlpW: r(I * C, 0.05), mlpB: r(C, 0.1),
  }));
  return { blocks, headW: r(C * V, 0.1), headB: r(V, 0.1), wte: r(V * C, 1), wpe: r(c.nPositions * C, 0.5) };
}

/** Largest |a - b| relative to the largest |a| (Infinity on a length mismatch). */
function rel(a: ArrayLike<number> | null, b: ArrayLike<number> | null): number {
  if (a === null || b === null || a.length !== b.length) return Infinity;
  let d = 0;
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    s = Math.max(s, Math.abs(a[i]));
  }
  return d / Math.max(s, 1e-30);
}

/** Checks the hand-built pipeline against the tfjs path for one nHead x hd shape. */
export async function checkFastPipeline(ops: ForwardOps, nHead: number, hd: number): Promise<KernelCheck[]> {
  const C = nHead * hd;
  const config: GptConfig = {
    vocabSize: 256, nPositions: 256, nEmbd: C, nLayer: 2, nHead, nInner: 4 * C, activation: 'gelu_new',
    layerNormEpsilon: 1e-5, initializerRange: 0.02, bosTokenId: null, eosTokenId: null,
  };
  const w = randomFolded(config, 5);
  const fast = new GpuForward(config, w, ops, true);
  const ref = new GpuForward(config, w, ops, false);
  if (fast.pipeline !== 'fast') {
    fast.dispose();
    ref.dispose();
    return [{ name: `fast pipeline ${nHead}x${hd}: not available`, maxAbsDiff: Infinity, ok: false }];
  }
  const both = async (f: (g: GpuForward) => Promise<ForwardResult>): Promise<[ForwardResult, ForwardResult]> => [await f(fast), await f(ref)];
  const checks: KernelCheck[] = [];
  const add = (name: string, d: number): void => { checks.push({ name: `fast pipeline ${nHead}x${hd}: ${name} (rel)`, maxAbsDiff: d, ok: d <= TOLERANCE }); };
  const prompts = [Array.from({ length: 90 }, (_, i) => (i * 7) % 256), Array.from({ length: 40 }, (_, i) => (i * 3 + 1) % 256)];
  for (const [slot, tokens] of prompts.entries()) {
    const [a, b] = await both((g) => g.prefill({ slot, pos0: 0, tokens, logits: 'all', onLayer: null }));
    add(`prefill ${tokens.length} logits`, rel(b.logits, a.logits));
    add(`prefill ${tokens.length} K/V`, rel(b.kv, a.kv));
  }
  for (let step = 0; step < 2; step++) {
    const items = prompts.map((p, slot) => ({ slot, token: (step * 11 + slot) % 256, pos: p.length + step }));
    const [a, b] = await both((g) => g.decode(items, 'logits'));
    add(`decode b=2 step ${step} logits`, rel(b.logits, a.logits));
  }
  // A batch above 8 rows (blocked matmuls on wide models): the two sequences and ten new ones.
  const wide = [...prompts.map((p, slot) => ({ slot, token: 5, pos: p.length + 2 })), ...Array.from({ length: 10 }, (_, i) => ({ slot: 2 + i, token: 7 * i, pos: 0 }))];
  const [wa, wb] = await both((g) => g.decode(wide, 'logits'));
  add('decode b=12 logits', rel(wb.logits, wa.logits));
  const items = prompts.map((p, slot) => ({ slot, token: 3, pos: p.length + 3 }));
  const [a, b] = await both((g) => g.decode(items, 'ids'));
  checks.push({ name: `fast pipeline ${nHead}x${hd}: greedy ids`, maxAbsDiff: rel(b.ids, a.ids), ok: a.ids?.join() === b.ids?.join() });
  fast.dispose();
  ref.dispose();
  return checks;
}
