// Times training steps of one or more builds of @baton/train on the same machine, interleaved:
// each round runs every build once, in its own process, so load changes hit them alike. A run
// trains a random model of --shape for --steps steps (kernels compile, buffers pool), then times
// --steps more and counts the tfjs kernels a step launches (tf.profile).
// Usage: node packages/train/scripts/step-bench.mjs --dist packages/train/dist [--dist OTHER/dist ...]
//   [--rounds 5] [--backend wasm|cpu|webgpu] [--shape 6x384x6] [--batch 4] [--context 64]
//   [--accumulate N] [--steps 3]
// Prints one JSON line per run and a summary (median tokens/s per build, ratio to the first).
// NOTE: --accumulate N splits each step's --batch rows into N micro-batches in builds whose Trainer
// takes `accumulate`; older builds ignore it and run the rows as one batch.
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values: v } = parseArgs({
  options: {
    dist: { type: 'string', multiple: true }, rounds: { type: 'string' }, backend: { type: 'string' }, shape: { type: 'string' },
    batch: { type: 'string' }, context: { type: 'string' }, accumulate: { type: 'string' }, steps: { type: 'string' },
    child: { type: 'string' },
  },
});
const opt = {
  backend: v.backend ?? 'wasm', shape: v.shape ?? '6x384x6', batch: Number(v.batch ?? 4), context: Number(v.context ?? 64),
  accumulate: Number(v.accumulate ?? 1), steps: Number(v.steps ?? 3),
};

async function child(dist) {
  const tf = await import('@tensorflow/tfjs-core');
  const t = await import(pathToFileURL(resolve(dist, 'index.js')).href);
  const { randomWeights } = await import('@baton/model');
  await t.initTrainBackend(opt.backend);
  const config = t.parseModelShape(opt.shape, opt.context);
  // NOTE: a synthetic byte corpus (seeded), so the bench needs no data file.
  const tokens = new Uint16Array(200_000);
  let s = 1;
  for (let i = 0; i < tokens.length; i++) tokens[i] = 32 + ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) % 90);
  const corpus = { train: tokens.subarray(0, 190_000), eval: tokens.subarray(190_000) };
  const trainer = new t.Trainer({
    corpus, config, steps: 1_000_000, batch: opt.batch, context: opt.context, schedule: { peak: 1e-4, min: 1e-5, warmup: 1 }, adamw: t.ADAMW_DEFAULTS,
    evalEvery: 1_000_000, evalBatches: 1, seed: 1, out: null, checkpointEvery: 0, dtype: 'F32', accumulate: opt.accumulate,
    resume: { config, weights: randomWeights(config, 1), optimizer: null, state: null }, maxSeconds: null, stretchSteps: opt.steps,
  });
  // NOTE: run() continues the trainer for another --steps steps and ends with an eval of the one
  // held-out batch, timed apart and subtracted. The first stretch warms up.
  await trainer.run();
  const e0 = performance.now();
  await trainer.evalLoss();
  const evalMs = performance.now() - e0;
  const s0 = performance.now();
  await trainer.run();
  const ms = performance.now() - s0 - evalMs;
  const evalKernels = (await tf.profile(() => trainer.evalLoss())).kernels.length;
  const runKernels = (await tf.profile(() => trainer.run())).kernels.length;
  trainer.dispose();
  return {
    dist, ...opt, secondsPerStep: +(ms / 1000 / opt.steps).toFixed(4),
    tokensPerSecond: Math.round((opt.steps * opt.batch * opt.context) / (ms / 1000)),
    kernelsPerStep: Math.round((runKernels - evalKernels) / opt.steps),
  };
}

if (v.child !== undefined) {
  process.stdout.write(JSON.stringify(await child(v.child)) + '\n');
} else {
  const dists = v.dist ?? ['packages/train/dist'];
  const runs = new Map(dists.map((d) => [d, []]));
  for (let r = 0; r < Number(v.rounds ?? 5); r++) {
    for (const d of dists) {
      const args = [process.argv[1], '--child', d, ...Object.entries(opt).flatMap(([k, x]) => [`--${k}`, String(x)])];
      const p = spawnSync(process.execPath, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
      if (p.status !== 0) throw new Error(`step-bench: ${d} exited ${p.status}`);
      const line = p.stdout.trim().split('\n').at(-1);
      console.log(line);
      runs.get(d).push(JSON.parse(line));
    }
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const base = median(runs.get(dists[0]).map((x) => x.tokensPerSecond));
  for (const [d, xs] of runs) {
    const tps = median(xs.map((x) => x.tokensPerSecond));
    console.log(JSON.stringify({ summary: d, medianTokensPerSecond: tps, ratio: +(tps / base).toFixed(3), kernelsPerStep: xs[0].kernelsPerStep, runs: xs.length }));
  }
}
