// Entry of the single-file training program for a GPU machine without npm (bundle-device.sh
// builds it): `node train.mjs <baton train flags> [--export DIR]`. Trains like `baton train`,
// then, with --export, writes the final checkpoint's weights as float16 to DIR (model.safetensors
// split into 15 MiB parts when larger, so each part fits a transfer limit; `cat` rejoins them).
import '../dist/tfjs-gradients.cjs';
import { readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { saveCheckpoint } from '@baton/model';
import { loadTrainCheckpoint, trainCommand } from '../dist/index.js';

const args = process.argv.slice(2);
const at = args.indexOf('--export');
const exportDir = at >= 0 ? args.splice(at, 2)[1] : null;
const summary = await trainCommand(args, (line) => process.stderr.write(line + '\n'));
process.stdout.write(summary + '\n');
if (exportDir !== null) {
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
