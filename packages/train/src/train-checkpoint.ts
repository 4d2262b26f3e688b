/**
 * Training checkpoints: a Hugging Face GPT-2 directory that @baton/model's loadModel reads
 * (config.json + model.safetensors) plus what resuming needs: optimizer.safetensors (AdamW's
 * moments, float32) and train_state.json (step, options, loss history).
 * Invariant: a checkpoint saved with dtype F32 resumes exactly (same parameters, moments, step,
 * and batches, since batches depend only on seed and step); F16/BF16 weights resume approximately.
 */
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  expectedShapes, parseHfConfig, parseSafetensors, saveCheckpoint, serializeSafetensors,
  type GptConfig, type GptWeights, type NamedTensor, type SafetensorsDtype,
} from '@baton/model';
import { TrainCheckpointError } from './errors.js';

/** One logged point of the loss curve. */
export interface HistoryPoint {
  step: number;
  loss: number;
  lr: number;
  evalLoss?: number;
}

/** The resumable part of a run, stored as train_state.json. */
export interface TrainState {
  /** Optimiser steps done. */
  step: number;
  /** The options that shape the curve (a resume must use the same). */
  run: { seed: number; batch: number; context: number; trainTokens: number; evalTokens: number };
  history: HistoryPoint[];
  /** Wall-clock seconds spent training so far, over all stretches. */
  seconds: number;
  tokensSeen: number;
}

/** Everything a checkpoint holds. */
export interface LoadedCheckpoint {
  config: GptConfig;
  weights: GptWeights;
  optimizer: Map<string, NamedTensor> | null;
  state: TrainState | null;
}

const STATE_FILE = 'train_state.json';
const OPTIMIZER_FILE = 'optimizer.safetensors';

/** Writes a checkpoint; NOTE: files are written under temporary names and renamed, so an interrupted save never leaves a torn checkpoint. */
export function saveTrainCheckpoint(
  dir: string,
  model: { config: GptConfig; weights: GptWeights },
  optimizer: Map<string, NamedTensor> | null,
  state: TrainState,
  dtype: SafetensorsDtype = 'F32',
): void {
  const tmp = `${dir}.saving`;
  rmSync(tmp, { recursive: true, force: true });
  saveCheckpoint(tmp, model, { dtype });
  if (optimizer !== null) writeFileSync(join(tmp, OPTIMIZER_FILE), serializeSafetensors(optimizer, 'F32'));
  writeFileSync(join(tmp, STATE_FILE), JSON.stringify(state, null, 1));
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
}

function readJson(path: string, dir: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new TrainCheckpointError(dir, `${path} is not valid JSON (${(e as Error).message})`);
  }
}

/** Reads a checkpoint directory (optimizer state and train state when present). */
export function loadTrainCheckpoint(dir: string): LoadedCheckpoint {
  for (const f of ['config.json', 'model.safetensors']) {
    if (!existsSync(join(dir, f))) throw new TrainCheckpointError(dir, `has no ${f}`);
  }
  const config = parseHfConfig(readJson(join(dir, 'config.json'), dir));
  const raw = parseSafetensors(new Uint8Array(readFileSync(join(dir, 'model.safetensors'))), join(dir, 'model.safetensors'));
  const weights: GptWeights = new Map();
  for (const [name, t] of raw) weights.set(name.startsWith('transformer.') ? name.slice('transformer.'.length) : name, t);
  for (const [name, shape] of expectedShapes(config)) {
    const t = weights.get(name);
    if (t === undefined || t.shape.join('x') !== shape.join('x')) throw new TrainCheckpointError(dir, `tensor ${name} is missing or not of shape [${shape.join(', ')}]`);
  }
  const optPath = join(dir, OPTIMIZER_FILE);
  const optimizer = existsSync(optPath) ? parseSafetensors(new Uint8Array(readFileSync(optPath)), optPath) : null;
  const statePath = join(dir, STATE_FILE);
  const state = existsSync(statePath) ? (readJson(statePath, dir) as TrainState) : null;
  if (state !== null && (!Number.isInteger(state.step) || state.step < 0 || !Array.isArray(state.history))) {
    throw new TrainCheckpointError(dir, `${STATE_FILE} has no valid step/history`);
  }
  return { config, weights, optimizer, state };
}
