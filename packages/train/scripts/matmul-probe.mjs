// Times the matrix products of a training step's dense layers on a backend, with the transposes
// that their gradients need done inside the matMul (transposeA / transposeB) or as a separate
// tf.transpose first, so that the faster form can be chosen per backend.
// Usage: node packages/train/scripts/matmul-probe.mjs [--backend wasm|cpu|webgpu] [--rows 64]
// Prints one JSON line per form: median milliseconds of 5 runs after 2 warm-up runs (each up to
// the read-back of one element of the product).
import '../dist/tfjs-gradients.cjs';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { initTrainBackend } from '../dist/index.js';

const { values: v } = parseArgs({ options: { backend: { type: 'string' }, rows: { type: 'string' } } });
const backend = v.backend ?? 'wasm';
const M = Number(v.rows ?? 64);
const detail = await initTrainBackend(backend);
const x = tf.randomNormal([M, 1536]);
const dy = tf.randomNormal([M, 384]);
const w = tf.randomNormal([384, 1536]);
async function time(form, f) {
  const ms = [];
  for (let i = 0; i < 7; i++) {
    const t0 = performance.now();
    // NOTE: one element is read back, so a large product's read-back is not timed with it.
    const r = tf.tidy(() => tf.slice(f(), [0, 0], [1, 1]));
    await r.data();
    r.dispose();
    if (i >= 2) ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  console.log(JSON.stringify({ form, rows: M, medianMs: +ms[2].toFixed(3), backend: detail }));
}
await time('x^T dy (transposeA)', () => tf.matMul(x, dy, true, false));
await time('transpose(x) dy', () => tf.matMul(tf.transpose(x), dy));
await time('x w^T (transposeB)', () => tf.matMul(x, w, false, true));
await time('x transpose(w)', () => tf.matMul(x, tf.transpose(w)));
await time('dy w (plain)', () => tf.matMul(dy, w));
for (const t of [x, dy, w]) t.dispose();
