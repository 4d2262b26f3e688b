// Entry of the single-file training program for a GPU machine without npm (bundle-device.sh
// builds it): `node train.mjs <baton train flags> [--export DIR] [--probe B1,B2,.. --plan-seconds S]
// [--finish-within S]` (S: seconds the whole program may take; it sets --max-minutes after the probe).
// Trains like `baton train`, then, with --export, writes the final checkpoint's weights as float16
// to DIR (model.safetensors split into 15 MiB parts when larger, so each part fits a transfer
// limit; `cat` rejoins them).
// With --probe, it first times a few steps at each listed batch size (from the --resume weights,
// or random ones), takes the batch with the most tokens per second, and sets --batch to it and
// --steps to what that rate trains in --plan-seconds (so the cosine schedule spans the planned
// stretches); the probe's table goes to stderr and, with --export, to DIR/probe.json.
// NOTE: a probe step counts the batch's held-out eval of one batch too (the same share for each
// batch size, so the ranking holds). Probing stops at the first batch that is not 5% faster than
// the best before it; a batch that fails (on the GPU: out of memory, seen as a NaN loss) ends the
// program, since the device is unusable afterwards.
import '../dist/tfjs-gradients.cjs';
import { readFileSync, rmSync, writeFileSync, copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { randomWeights, saveCheckpoint } from '@baton/model';
import { ADAMW_DEFAULTS, initTrainBackend, loadTrainCheckpoint, parseModelShape, readCorpus, trainCommand, Trainer } from '../dist/index.js';

const args = process.argv.slice(2);
const take = (flag) => {
  const at = args.indexOf(flag);
  return at >= 0 ? args.splice(at, 2)[1] : null;
};
const flag = (name) => {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : null;
};
const exportDir = take('--export');
const probe = take('--probe');
const planSeconds = Number(take('--plan-seconds') ?? 600);
const finishWithin = take('--finish-within');
const STEPS = 3;
const log = (line) => process.stderr.write(line + '\n');

async function probeBatches(list) {
  await initTrainBackend(flag('--backend') ?? 'webgpu');
  const context = Number(flag('--context') ?? 256);
  const corpus = readCorpus(flag('--data'), Number(flag('--eval-fraction') ?? 0.05));
  const from = flag('--resume');
  const init = from !== null ? loadTrainCheckpoint(from) : null;
  const config = init?.config ?? parseModelShape(flag('--model-config'), Number(flag('--positions') ?? context));
  const weights = init?.weights ?? randomWeights(config, 1);
  const rows = [];
  for (const batch of list) {
    const trainer = new Trainer({
      corpus, config, steps: 1_000_000, batch, context, schedule: { peak: 1e-4, min: 1e-5, warmup: 1 }, adamw: ADAMW_DEFAULTS,
      evalEvery: 1_000_000, evalBatches: 1, seed: 1, out: null, checkpointEvery: 0, dtype: 'F32',
      resume: { config, weights, optimizer: null, state: null }, maxSeconds: null, stretchSteps: STEPS,
    });
    try {
      await trainer.run();
      // NOTE: the first stretch compiles the shaders; the second (run() continues the trainer) is timed.
      const t0 = performance.now();
      const r = await trainer.run();
      const t1 = performance.now();
      const tps = (STEPS * batch * context) / ((t1 - t0) / 1000);
      rows.push({ batch, context, secondsPerStep: (t1 - t0) / 1000 / STEPS, tokensPerSecond: Math.round(tps), loss: r.loss });
      log(`probe: batch ${batch} x ${context}: ${((t1 - t0) / 1000 / STEPS).toFixed(3)} s/step, ${Math.round(tps)} tokens/s, loss ${r.loss.toFixed(3)}`);
      if (rows.length > 1 && tps < 1.05 * Math.max(...rows.slice(0, -1).map((x) => x.tokensPerSecond))) break;
    } catch (e) {
      // NOTE: a GPU that ran out of memory stays broken for this process (every later result is NaN), so nothing more runs here.
      throw new Error(`probe: batch ${batch} x ${context} failed (${e instanceof Error ? e.message : e}); rerun with a --probe list that stops below ${batch}`);
    } finally {
      trainer.dispose();
    }
  }
  const best = [...rows].sort((a, b) => b.tokensPerSecond - a.tokensPerSecond)[0];
  if (best === undefined) throw new Error('probe: no batch size trained');
  const steps = Math.max(1, Math.round((planSeconds * best.tokensPerSecond) / (best.batch * context)));
  log(`probe: chose batch ${best.batch}; ${steps} steps fill ${planSeconds} s at ${best.tokensPerSecond} tokens/s`);
  return { rows, batch: best.batch, steps, planSeconds };
}

let plan = null;
if (probe !== null) {
  plan = await probeBatches(probe.split(',').map(Number));
  take('--batch');
  take('--steps');
  args.push('--batch', String(plan.batch), '--steps', String(plan.steps));
  if (flag('--eval-batches') === null) args.push('--eval-batches', String(Math.max(1, Math.ceil(262144 / (plan.batch * Number(flag('--context') ?? 256))))));
}
if (finishWithin !== null) {
  // NOTE: --finish-within S bounds the whole program (probe included): training stops early enough to save and export.
  take('--max-minutes');
  args.push('--max-minutes', String(Math.max(0.1, (Number(finishWithin) - process.uptime() - 30) / 60)));
}
const summary = await trainCommand(args, log);
process.stdout.write(summary + '\n');
if (exportDir !== null) {
  mkdirSync(exportDir, { recursive: true });
  if (plan !== null) writeFileSync(join(exportDir, 'probe.json'), JSON.stringify(plan, null, 1));
  const out = JSON.parse(summary).out;
  const ckpt = loadTrainCheckpoint(out);
  saveCheckpoint(exportDir, { config: ckpt.config, weights: ckpt.weights }, { dtype: 'F16' });
  copyFileSync(join(out, 'train_state.json'), join(exportDir, 'train_state.json'));
  const file = join(exportDir, 'model.safetensors');
  const bytes = readFileSync(file);
  const PART = 15 * 1024 * 1024;
  if (bytes.length > PART) {
    for (let i = 0; i * PART < bytes.length; i++) writeFileSync(`${file}.part${i}`, bytes.subarray(i * PART, (i + 1) * PART));
    rmSync(file);
  }
}
