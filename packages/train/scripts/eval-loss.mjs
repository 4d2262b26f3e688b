// Held-out loss of a checkpoint, measured the way `baton train` measures it (mean cross-entropy in
// nats per token over `--batches` fixed batches of `--batch` x `--context` tokens spread evenly
// over the held-out split), so that checkpoints trained with different batch sizes compare on one
// set. Usage: node packages/train/scripts/eval-loss.mjs --data FILE --model DIR [--model DIR ...]
//   [--batch 32] [--context 256] [--batches 8] [--rows 4] [--eval-fraction 0.05] [--backend wasm|cpu|webgpu]
// NOTE: the gradients are imported for the single-file GPU build (bundle-device.sh), where initTrainBackend finds no dist/ beside it.
import '../dist/tfjs-gradients.cjs';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { evalBatches, initTrainBackend, loadTrainCheckpoint, readCorpus, TrainModel } from '../dist/index.js';

const { values: v } = parseArgs({
  options: {
    data: { type: 'string' }, model: { type: 'string', multiple: true }, batch: { type: 'string' }, context: { type: 'string' },
    batches: { type: 'string' }, rows: { type: 'string' }, 'eval-fraction': { type: 'string' }, backend: { type: 'string' },
  },
});
if (v.data === undefined || v.model === undefined) throw new Error('eval-loss: --data FILE and --model DIR are required');
const opts = { batch: Number(v.batch ?? 32), context: Number(v.context ?? 256), count: Number(v.batches ?? 8) };
const rows = Number(v.rows ?? 4);
const corpus = readCorpus(v.data, Number(v['eval-fraction'] ?? 0.05));
const detail = await initTrainBackend(v.backend ?? 'wasm');
const set = evalBatches(corpus.eval, opts);
for (const dir of v.model) {
  const ckpt = loadTrainCheckpoint(dir);
  const model = new TrainModel(ckpt.config, ckpt.weights);
  let sum = 0;
  for (const b of set) {
    // NOTE: a batch is scored in chunks of `--rows` windows (every window has `context` targets, so the mean of the chunks' means is the batch's), which keeps wasm's memory small.
    for (let r = 0; r < b.batch; r += rows) {
      const n = Math.min(rows, b.batch - r);
      const part = (a) => tf.tensor2d(a.subarray(r * b.context, (r + n) * b.context), [n, b.context], 'int32');
      const loss = tf.tidy(() => model.loss(part(b.inputs), part(b.targets)));
      sum += ((await loss.data())[0] * n) / b.batch;
      loss.dispose();
    }
  }
  model.dispose();
  console.log(JSON.stringify({ model: dir, evalLoss: sum / set.length, ...opts, evalTokens: corpus.eval.length, backend: detail }));
}
