/**
 * Kernel parity checks: runs each fused op of a ForwardOps and the generic tfjs reference on the
 * same seeded random inputs (on the active backend) and reports the largest absolute difference.
 * Used by the GPU check script (through the host thread's `checkKernels` request) and by tests.
 */
import * as tf from '@tensorflow/tfjs-core';
import { createRng } from '../rng.js';
import { GPU_PAGE, referenceOps, type ForwardOps } from './forward-ops.js';
import type { KernelCheck } from './gpu-protocol.js';

const TOLERANCE = 2e-5;

function randn(n: number, seed: number): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: n }, () => rng.next() * 4 - 2);
}

async function diff(name: string, a: tf.Tensor, b: tf.Tensor, tol = TOLERANCE): Promise<KernelCheck> {
  const [x, y] = await Promise.all([a.data(), b.data()]);
  let d = x.length === y.length ? 0 : Infinity;
  for (let i = 0; i < x.length; i++) d = Math.max(d, Math.abs(x[i] - y[i]));
  tf.dispose([a, b]);
  return { name, maxAbsDiff: d, ok: d <= tol };
}

/** Paged attention over 3 sequences (lengths 1, 70, 200) and a 5-row causal block; nHead x hd. */
async function attentionCheck(ops: ForwardOps, nHead: number, hd: number): Promise<KernelCheck[]> {
  const C = nHead * hd;
  const lengths = [1, 70, 200];
  const maxPages = Math.ceil(256 / GPU_PAGE);
  // Pages handed out interleaved so that a sequence's pages are not contiguous.
  const tables = lengths.map((_, s) => Array.from({ length: maxPages }, (_, p) => p * lengths.length + s));
  const poolRows = lengths.length * maxPages * 2 * GPU_PAGE;
  let poolA = tf.zeros([poolRows, C]) as tf.Tensor2D;
  let poolB = tf.zeros([poolRows, C]) as tf.Tensor2D;
  const dst: number[] = [];
  lengths.forEach((L, s) => {
    for (let t = 0; t < L; t++) dst.push(tables[s][Math.floor(t / GPU_PAGE)] * 2 * GPU_PAGE + (t % GPU_PAGE));
  });
  const rows = tf.tensor2d(randn(dst.length * 3 * C, 7), [dst.length, 3 * C]);
  const dstT = tf.tensor1d(dst, 'int32');
  const appendA = ops.appendKv({ pool: poolA, rows, kOff: C, vOff: 2 * C, dst: dstT });
  const appendB = referenceOps.appendKv({ pool: poolB, rows, kOff: C, vOff: 2 * C, dst: dstT });
  if (appendA !== poolA) poolA.dispose();
  poolB.dispose();
  poolA = appendA;
  poolB = appendB;
  const checks = [await diff(`kv append ${nHead}x${hd}`, tf.clone(poolA), tf.clone(poolB), 0)];
  const pagesHost = Int32Array.from(tables.flat());
  const pages = tf.tensor2d(pagesHost, [lengths.length, maxPages], 'int32');
  const q = tf.tensor2d(randn(8 * 3 * C, 11), [8, 3 * C]);
  // Decode rows: the last position of each sequence; prefill rows: positions 195..199 of sequence 2.
  const decodeHost = Int32Array.from(lengths.flatMap((L, s) => [s, L - 1]));
  const blockHost = Int32Array.from([2, 195, 2, 196, 2, 197, 2, 198, 2, 199]);
  const decodeInfo = tf.tensor2d(decodeHost, [3, 2], 'int32');
  const blockInfo = tf.tensor2d(blockHost, [5, 2], 'int32');
  for (const [name, info, infoHost, n] of [['decode', decodeInfo, decodeHost, 3], ['prefill block', blockInfo, blockHost, 5]] as const) {
    const qn = tf.slice(q, [0, 0], [n, 3 * C]) as tf.Tensor2D;
    const args = { qkv: qn, pool: poolA, pages, info, pagesHost, infoHost, nHead, scale: 1 / Math.sqrt(hd) };
    checks.push(await diff(`attention ${name} ${nHead}x${hd}`, ops.attention(args), referenceOps.attention({ ...args, pool: poolB })));
    qn.dispose();
  }
  tf.dispose([poolA, poolB, rows, dstT, pages, q, decodeInfo, blockInfo]);
  return checks;
}

/** All kernel checks of `ops` against the generic reference. */
export async function checkKernels(ops: ForwardOps): Promise<KernelCheck[]> {
  const x = tf.tensor2d(randn(33 * 512, 3), [33, 512]);
  const wide = tf.tensor2d(randn(32 * 2048, 5), [32, 2048]);
  const logits = tf.tensor2d(Float32Array.from(randn(32 * 256, 9), (v, i) => (i % 256 === 17 || i % 256 === 200 ? 9 : v)), [32, 256]);
  const checks = [
    await diff('normalize 33x512', ops.normalize(x, 1e-5), referenceOps.normalize(x, 1e-5)),
    await diff('gelu_new 32x2048', ops.geluNew(wide), referenceOps.geluNew(wide), 1e-5),
    await diff('argmax 32x256 (ties -> lowest id)', ops.argmax(logits), tf.fill([32], 17, 'int32'), 0),
    ...(await attentionCheck(ops, 8, 32)),
    ...(await attentionCheck(ops, 8, 64)),
    ...(await attentionCheck(ops, 4, 16)),
  ];
  tf.dispose([x, wide, logits]);
  return checks;
}
