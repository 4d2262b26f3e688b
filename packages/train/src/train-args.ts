/**
 * `baton train` arguments and the command itself: parses the flags, reads the corpus, runs the
 * Trainer with a progress line, and returns a summary. Shared by the CLI and the standalone
 * training entry (train-main.ts). A shape is `LAYERSxWIDTHxHEADS` (e.g. 6x384x6) or a config.json
 * path; a new model gets the byte-level vocabulary (256 bytes + end-of-text, eos_token_id 256) and
 * `--positions` positions (default `--context`; more positions are trained by spreading the
 * training windows over them).
 */
import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parseHfConfig, type GptConfig, type SafetensorsDtype } from '@baton/model';
import { ADAMW_DEFAULTS } from './adamw.js';
import { BYTE_VOCAB_SIZE, END_OF_TEXT_ID, readCorpus } from './corpus.js';
import { TrainOptionError } from './errors.js';
import { formatProgress } from './progress-bar.js';
import { initTrainBackend, TRAIN_BACKENDS, type TrainBackend } from './train-backend.js';
import { loadTrainCheckpoint } from './train-checkpoint.js';
import { Trainer, type TrainResult } from './trainer.js';

/** One-line usage. */
export const TRAIN_USAGE =
  'baton train --data FILE|DIR --model-config LxCxH|CONFIG.json --steps N --out DIR [--batch B] [--accumulate N] [--context T] [--positions P] [--lr LR] [--min-lr LR] [--warmup N] [--weight-decay W] [--clip G] [--eval-every N] [--eval-batches N] [--eval-fraction F] [--seed S] [--checkpoint-every N] [--dtype F32|F16|BF16] [--max-minutes M] [--stretch-steps N] [--resume DIR] [--backend webgpu|wasm|cpu]';

const OPTIONS = {
  data: { type: 'string' }, 'model-config': { type: 'string' }, steps: { type: 'string' }, out: { type: 'string' },
  batch: { type: 'string' }, accumulate: { type: 'string' }, context: { type: 'string' }, positions: { type: 'string' }, lr: { type: 'string' }, 'min-lr': { type: 'string' },
  warmup: { type: 'string' }, 'weight-decay': { type: 'string' }, clip: { type: 'string' }, 'eval-every': { type: 'string' },
  'eval-batches': { type: 'string' }, 'eval-fraction': { type: 'string' }, seed: { type: 'string' },
  'checkpoint-every': { type: 'string' }, dtype: { type: 'string' }, 'max-minutes': { type: 'string' }, 'stretch-steps': { type: 'string' },
  resume: { type: 'string' }, backend: { type: 'string' }, quiet: { type: 'boolean' },
} as const;

function num(v: string | undefined, flag: string, o: { fallback?: number; min?: number; max?: number; integer?: boolean }): number {
  if (v === undefined) {
    if (o.fallback === undefined) throw new TrainOptionError(flag, 'required');
    return o.fallback;
  }
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || (o.integer === true && !Number.isInteger(n)) || (o.min !== undefined && n < o.min) || (o.max !== undefined && n > o.max)) {
    const range = `${o.integer === true ? 'an integer' : 'a number'}${o.min !== undefined ? ` >= ${o.min}` : ''}${o.max !== undefined ? ` <= ${o.max}` : ''}`;
    throw new TrainOptionError(flag, `expected ${range}, got "${v}"`);
  }
  return n;
}

/** Parses a model shape (`LxCxH` or a config.json path) into a config with `positions` positions. */
export function parseModelShape(value: string, positions: number): GptConfig {
  const m = /^(\d+)x(\d+)x(\d+)$/.exec(value);
  if (m === null) {
    if (!existsSync(value)) throw new TrainOptionError('--model-config', `"${value}" is neither LAYERSxWIDTHxHEADS (e.g. 6x384x6) nor a config.json file`);
    return parseHfConfig(JSON.parse(readFileSync(value, 'utf8')));
  }
  const [nLayer, nEmbd, nHead] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (nLayer < 1 || nHead < 1 || nEmbd < 1 || nEmbd % nHead !== 0) throw new TrainOptionError('--model-config', `${value}: width ${nEmbd} must be a positive multiple of heads ${nHead}`);
  return {
    vocabSize: BYTE_VOCAB_SIZE, nPositions: positions, nEmbd, nLayer, nHead, nInner: 4 * nEmbd, activation: 'gelu_new',
    layerNormEpsilon: 1e-5, initializerRange: 0.02, bosTokenId: END_OF_TEXT_ID, eosTokenId: END_OF_TEXT_ID,
  };
}

/** Runs `baton train`; progress lines go to `progress`. Returns the summary as JSON text. */
export async function trainCommand(args: string[], progress: (line: string) => void): Promise<string> {
  const { values: v } = parseArgs({ args, options: OPTIONS, strict: true, allowPositionals: false });
  if (v.data === undefined) throw new TrainOptionError('--data', 'required');
  if (v.out === undefined) throw new TrainOptionError('--out', 'required');
  if (v['model-config'] === undefined && v.resume === undefined) throw new TrainOptionError('--model-config', 'required (or --resume DIR)');
  const backend = (v.backend ?? 'webgpu') as TrainBackend;
  if (!(TRAIN_BACKENDS as readonly string[]).includes(backend)) throw new TrainOptionError('--backend', `unknown "${backend}" (expected ${TRAIN_BACKENDS.join(', ')})`);
  const dtype = (v.dtype ?? 'F32').toUpperCase() as SafetensorsDtype;
  if (!['F32', 'F16', 'BF16'].includes(dtype)) throw new TrainOptionError('--dtype', `expected F32, F16 or BF16, got "${v.dtype}"`);
  const steps = num(v.steps, '--steps', { min: 1, integer: true });
  const context = num(v.context, '--context', { fallback: 256, min: 2, integer: true });
  const lr = num(v.lr, '--lr', { fallback: 1e-3, min: 0 });
  const resume = v.resume === undefined ? null : loadTrainCheckpoint(v.resume);
  const config = resume?.config ?? parseModelShape(v['model-config'] ?? '', num(v.positions, '--positions', { fallback: context, min: context, integer: true }));
  const corpus = readCorpus(v.data, num(v['eval-fraction'], '--eval-fraction', { fallback: 0.05, min: 0, max: 0.5 }));
  const detail = await initTrainBackend(backend);
  const trainer = new Trainer({
    corpus, config, steps, context,
    batch: num(v.batch, '--batch', { fallback: 32, min: 1, integer: true }),
    accumulate: num(v.accumulate, '--accumulate', { fallback: 1, min: 1, integer: true }),
    schedule: { peak: lr, min: num(v['min-lr'], '--min-lr', { fallback: lr / 10, min: 0 }), warmup: num(v.warmup, '--warmup', { fallback: Math.min(100, Math.ceil(steps / 10)), min: 1, integer: true }) },
    adamw: { ...ADAMW_DEFAULTS, weightDecay: num(v['weight-decay'], '--weight-decay', { fallback: ADAMW_DEFAULTS.weightDecay, min: 0 }), clipNorm: num(v.clip, '--clip', { fallback: ADAMW_DEFAULTS.clipNorm, min: 0 }) },
    evalEvery: num(v['eval-every'], '--eval-every', { fallback: Math.max(1, Math.ceil(steps / 10)), min: 1, integer: true }),
    evalBatches: num(v['eval-batches'], '--eval-batches', { fallback: 8, min: 1, integer: true }),
    seed: num(v.seed, '--seed', { fallback: 1337, min: 0, max: 0xffff_ffff, integer: true }),
    out: v.out,
    checkpointEvery: num(v['checkpoint-every'], '--checkpoint-every', { fallback: 0, min: 0, integer: true }),
    dtype,
    resume,
    stretchSteps: v['stretch-steps'] === undefined ? null : num(v['stretch-steps'], '--stretch-steps', { min: 1, integer: true }),
    maxSeconds: v['max-minutes'] === undefined ? null : 60 * num(v['max-minutes'], '--max-minutes', { min: 0 }),
    onProgress: v.quiet === true ? undefined : (r) => progress(formatProgress(r)),
  });
  progress(`train: ${trainer.model.parameterCount.toLocaleString('en-US')} parameters, ${corpus.train.length.toLocaleString('en-US')} training / ${corpus.eval.length.toLocaleString('en-US')} held-out tokens, backend ${detail}${resume === null ? '' : trainer.continues ? `, resuming at step ${trainer.step}` : ', from the checkpoint\'s weights with a new schedule (it has no optimiser state to continue)'}`);
  let result: TrainResult;
  try {
    result = await trainer.run();
  } finally {
    trainer.dispose();
  }
  const { history, ...summary } = result;
  return JSON.stringify({ ...summary, out: v.out, lastPoints: history.slice(-3) });
}
